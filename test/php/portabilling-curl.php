<?php
/*
 * What PortaBilling API clients written in PHP do on the wire, with php-curl
 * alone: the legacy form envelope (params=<json>&auth_info=<json>, the
 * session_id credential, logging in again on
 * Server.Session.check_auth.auth_failed) and the JSON envelope with a Bearer
 * token. Faults are read only from HTTP 500, as those clients do.
 *
 * Usage: php portabilling-curl.php <base url, e.g. http://127.0.0.1:3000/portabilling>
 * Prints one JSON object per step; test/integration/portabilling-php.test.ts checks them.
 */

[, $base] = $argv;

/** POST and decode: [status, body]. */
function post(string $url, string $body, array $headers): array
{
    $ch = curl_init($url);
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => $headers,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 20,
    ]);
    $text = curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    curl_close($ch);
    return [$status, json_decode((string) $text, true)];
}

/** The legacy form envelope; a fault only from HTTP 500. */
function formCall(string $url, ?array $params, ?array $authInfo): array
{
    $fields = [];
    if ($params !== null) {
        $fields['params'] = json_encode($params);
    }
    if ($authInfo !== null) {
        $fields['auth_info'] = json_encode($authInfo);
    }
    [$status, $body] = post($url, http_build_query($fields), ['Content-Type: application/x-www-form-urlencoded']);
    if ($status === 200) {
        return ['ok' => true, 'body' => $body];
    }
    return $status === 500 ? ['ok' => false, 'faultcode' => $body['faultcode'] ?? null] : ['ok' => false, 'http' => $status];
}

function jsonCall(string $url, array $params, ?string $token): array
{
    $headers = ['Content-Type: application/json'];
    if ($token !== null) {
        $headers[] = 'Authorization: Bearer ' . $token;
    }
    // PHP's json_encode of an empty array is [], which clients send as "no params".
    [$status, $body] = post($url, json_encode(['params' => $params]), $headers);
    return $status === 200 ? ['ok' => true, 'body' => $body] : ['ok' => false, 'http' => $status, 'faultcode' => $body['faultcode'] ?? null];
}

function report(string $step, $result): void
{
    echo json_encode(['step' => $step, 'result' => $result]), "\n";
}

$account = $base . '/account/rest/';
$login = fn () => formCall($account . 'Session/login', ['login' => getenv('ACCOUNT_LOGIN'), 'password' => getenv('ACCOUNT_PASSWORD')], null);

$first = $login();
$sessionId = $first['body']['session_id'] ?? null;
report('form login', ['ok' => $first['ok'], 'status' => $first['body']['status'] ?? null]);
report('form call with auth_info', formCall($account . 'Account/get_account_info', [], ['session_id' => $sessionId]));
report('form call without params', formCall($account . 'Account/get_account_info/', null, ['session_id' => $sessionId]));
report('ping by session_id', formCall($account . 'Session/ping', ['session_id' => $sessionId], null));
report('logout by session_id', formCall($account . 'Session/logout', ['session_id' => $sessionId], null));

// What those clients do with a call that fails: log in again only on check_auth.auth_failed, then retry once.
$call = formCall($account . 'Account/get_account_info', [], ['session_id' => $sessionId]);
$relogged = false;
if (!$call['ok'] && ($call['faultcode'] ?? '') === 'Server.Session.check_auth.auth_failed') {
    $again = $login();
    $relogged = $again['ok'] && $again['body']['session_id'] !== $sessionId;
    $call = formCall($account . 'Account/get_account_info', [], ['session_id' => $again['body']['session_id'] ?? '']);
}
report('relogin and retry', ['relogged' => $relogged, 'call' => $call]);

report('wrong password', formCall($account . 'Session/login', ['login' => getenv('ACCOUNT_LOGIN'), 'password' => 'Wrong-pass1'], null));

$admin = jsonCall($base . '/admin/rest/Session/login', ['login' => 'root', 'password' => getenv('ROOT_PASSWORD')], null);
$token = $admin['body']['access_token'] ?? null;
$claims = json_decode(base64_decode(strtr(explode('.', (string) $token)[1] ?? '', '-_', '+/')), true);
report('json login', ['ok' => $admin['ok'], 'login' => $claims['login'] ?? null, 'lifetime' => ($claims['exp'] ?? 0) - ($claims['iat'] ?? 0)]);
$list = jsonCall($base . '/admin/rest/Customer/get_customer_list', [], $token);
report('json list with empty params', ['ok' => $list['ok'], 'count' => count($list['body']['customer_list'] ?? [])]);
report('json ping by access_token', jsonCall($base . '/admin/rest/Session/ping', ['access_token' => $token], null));
report('json logout by access_token', jsonCall($base . '/admin/rest/Session/logout', ['access_token' => $token], null));
report('json call after logout', jsonCall($base . '/admin/rest/Customer/get_customer_list', [], $token));
