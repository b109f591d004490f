import assert from 'node:assert/strict';
import { test } from 'node:test';
import { childRequires2fa, customerRequires2fa, resolveTriState, type TriState } from '../../src/domain/two-factor-policy.js';

const states: TriState[] = ['inherit', 'enabled', 'disabled'];
const classes: Array<boolean | undefined> = [true, false, undefined];

test('tri-state: enabled and disabled override, inherit follows', () => {
  for (const inherited of [true, false]) {
    assert.equal(resolveTriState('enabled', inherited), true);
    assert.equal(resolveTriState('disabled', inherited), false);
    assert.equal(resolveTriState('inherit', inherited), inherited);
  }
});

test('customer over class: the whole matrix', () => {
  const expected: Record<TriState, [boolean, boolean, boolean]> = {
    // class:   true   false  none
    inherit: [true, false, false],
    enabled: [true, true, true],
    disabled: [false, false, false],
  };
  for (const customer of states) {
    classes.forEach((cls, i) => assert.equal(customerRequires2fa(customer, cls), expected[customer][i], `${customer}/${cls}`));
  }
});

test('individual or account over customer over class: all 27 combinations', () => {
  let count = 0;
  for (const own of states) {
    for (const customer of states) {
      for (const cls of classes) {
        const customerEffective = customer === 'enabled' ? true : customer === 'disabled' ? false : cls === true;
        const expected = own === 'enabled' ? true : own === 'disabled' ? false : customerEffective;
        assert.equal(childRequires2fa(own, customer, cls), expected, `${own}/${customer}/${cls}`);
        count++;
      }
    }
  }
  assert.equal(count, 27);
});

test('spot checks named in the seed', () => {
  // Class turns 2FA on: an inheriting customer's accounts need it...
  assert.equal(childRequires2fa('inherit', 'inherit', true), true);
  // ...unless the customer (or the account itself) is overridden.
  assert.equal(childRequires2fa('inherit', 'disabled', true), false);
  assert.equal(childRequires2fa('disabled', 'inherit', true), false);
  // An individual can be required to use 2FA though its customer is not.
  assert.equal(childRequires2fa('enabled', 'disabled', false), true);
});
