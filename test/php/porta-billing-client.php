<?php
/*
 * Drives the public PortaBilling client library porta/billing (with its Guzzle
 * bindings, porta/billing-guzzle) unmodified against a running billing-auth.
 * The library is not part of this repository: PORTA_BILLING_SRC names a
 * checkout of porta/billing and PORTA_BILLING_GUZZLE_SRC one of
 * porta/billing-guzzle; Guzzle and the PSR interfaces come from Debian
 * (php-guzzlehttp-guzzle, php-psr-simple-cache).
 *
 * Usage: php porta-billing-client.php <host:port> <account-port>
 * Prints one JSON object per step; test/integration/portabilling-client.test.ts checks them.
 */

use Porta\Billing\Billing;
use Porta\Billing\BulkOperation;
use Porta\Billing\Cache\InstanceCache;
use Porta\Billing\Exceptions\PortaAuthException;
use Porta\Billing\Guzzle\ConfigGuzzle;

$src = getenv('PORTA_BILLING_SRC');
$guzzleSrc = getenv('PORTA_BILLING_GUZZLE_SRC');
spl_autoload_register(function (string $class) use ($src, $guzzleSrc): void {
    $file = str_starts_with($class, 'Porta\\Billing\\Guzzle\\')
        ? $guzzleSrc . '/src/' . substr($class, strlen('Porta\\Billing\\Guzzle\\')) . '.php'
        : (str_starts_with($class, 'Porta\\Billing\\') ? $src . '/' . str_replace('\\', '/', $class) . '.php' : null);
    if ($file !== null && is_file($file)) {
        require $file;
    }
});
require '/usr/share/php/GuzzleHttp/autoload.php';
require '/usr/share/php/Psr/SimpleCache/autoload.php';

[, $host, $accountPort] = $argv;

// Configuration through the library's documented extension points: the scheme
// and the API base are class constants meant to be overridden.
class AdminRealm extends ConfigGuzzle
{
    public const SCHEME = 'http';
    public const API_BASE = '/portabilling/admin/rest';
}
// The account realm on its own listener (PORTABILLING_PORTS): the stock base `/rest`.
class AccountPort extends ConfigGuzzle
{
    public const SCHEME = 'http';
}

function step(string $name, callable $body): void
{
    try {
        $result = $body();
        echo json_encode(['step' => $name, 'ok' => true, 'result' => $result]), "\n";
    } catch (Throwable $e) {
        echo json_encode(['step' => $name, 'ok' => false, 'error' => get_class($e), 'message' => $e->getMessage()]), "\n";
    }
}

$cache = new InstanceCache();
$admin = new AdminRealm($host, $cache, ['login' => 'root', 'password' => getenv('ROOT_PASSWORD')]);
$billing = null;

step('admin login', function () use ($admin, &$billing) {
    $billing = new Billing($admin);
    return ['present' => $billing->isSessionPresent(), 'username' => $billing->getUsername()];
});
step('admin ping', function () use (&$billing) {
    $billing->checkSession();
    return ['present' => $billing->isSessionPresent()];
});
$customers = [];
step('list customers', function () use (&$billing, &$customers) {
    $customers = $billing->call('/Customer/get_customer_list', ['limit' => 50])['customer_list'];
    return ['count' => count($customers)];
});
step('read a customer', function () use (&$billing, &$customers) {
    return $billing->call('Customer/get_customer_info', ['i_customer' => $customers[0]['i_customer']])['customer_info']['login'];
});
step('read customers in parallel', function () use (&$billing, &$customers) {
    $ops = [];
    foreach ($customers as $c) {
        $ops[] = new BulkOperation('/Customer/get_customer_info', ['i_customer' => $c['i_customer']]);
    }
    $billing->callConcurrent($ops, 10);
    return array_map(fn ($op) => $op->success() ? $op->getResponse()['customer_info']['i_customer'] : $op->getException()->getMessage(), $ops);
});
$before = null;
step('refresh', function () use ($admin, $cache, &$billing, &$before) {
    $before = $cache->get($admin->getCacheTag());
    // A margin longer than the token's life makes the next start refresh it, as a portal does within its last hour.
    $admin->setSessionRefreshMargin(49 * 3600);
    $billing = new Billing($admin);
    $after = $cache->get($admin->getCacheTag());
    $admin->setSessionRefreshMargin(3600);
    return [
        'changed' => $after['refresh_token'] !== $before['refresh_token'],
        'session_id_kept' => $after['session_id'] === $before['session_id'],
        'username' => $billing->getUsername(),
        'customers' => count($billing->call('/Customer/get_customer_list', [])['customer_list']),
    ];
});
step('admin logout', function () use (&$billing, $admin, $cache) {
    $token = $cache->get($admin->getCacheTag())['access_token'];
    $billing->logout();
    return ['present' => $billing->isSessionPresent(), 'token' => $token];
});
step('wrong password', function () use ($host) {
    new Billing(new AdminRealm($host, new InstanceCache(), ['login' => 'root', 'password' => 'Wrong-pass1']));
    return 'logged in';
});

$account = new AccountPort('127.0.0.1:' . $accountPort, new InstanceCache(), ['login' => 'alice', 'password' => getenv('ACCOUNT_PASSWORD')]);
step('account login and own record', function () use ($account, &$billing) {
    $billing = new Billing($account);
    return ['username' => $billing->getUsername(), 'login' => $billing->call('/Account/get_account_info')['account_info']['login']];
});
step('relogin after the session ended', function () use (&$billing) {
    // The session ends on the server (as a revocation or an idle timeout would); the client's
    // checkSession() pings, reads user_id 0 and logs in again.
    $billing->call('/Session/logout', []);
    $billing->checkSession();
    return $billing->call('/Account/get_account_info', [])['account_info']['login'];
});
step('account logout', function () use (&$billing) {
    $billing->logout();
    return ['present' => $billing->isSessionPresent()];
});
