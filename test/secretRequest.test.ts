import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSecretAllowed, secretRequestError } from '../src/http/secretRequest.js';
import { isValidSecretName, isValidSecretVersion } from 'functions-keyvault/internal/keyVault/index.js';

test('secret names: 1-127 letters, digits, dashes', () => {
  assert.equal(isValidSecretName('db-password'), true);
  assert.equal(isValidSecretName('A1'), true);
  assert.equal(isValidSecretName('x'.repeat(127)), true);
  assert.equal(isValidSecretName('x'.repeat(128)), false);
  assert.equal(isValidSecretName(''), false);
  for (const bad of ['a_b', 'a.b', 'a/b', '../etc', 'a b', 'é', 'a%2Fb'])
    assert.equal(isValidSecretName(bad), false, bad);
});

test('versions: exactly 32 hex characters', () => {
  assert.equal(isValidSecretVersion('0123456789abcdef0123456789ABCDEF'), true);
  assert.equal(isValidSecretVersion('0123456789abcdef0123456789abcde'), false);
  assert.equal(isValidSecretVersion('0123456789abcdef0123456789abcdeg'), false);
});

test('secretRequestError explains what is wrong, and accepts good input', () => {
  assert.equal(secretRequestError('ok-name', undefined), undefined);
  assert.match(secretRequestError('bad_name', undefined) ?? '', /1-127 characters/);
  assert.match(secretRequestError('ok', 'xyz') ?? '', /32 hexadecimal/);
  assert.match(secretRequestError(undefined, undefined) ?? '', /secret name/);
});

test('allow-list: deny by default, exact names, trailing-* prefixes, case-insensitive like Key Vault', () => {
  assert.equal(isSecretAllowed('anything', []), false);
  assert.equal(isSecretAllowed('db-password', ['db-password']), true);
  assert.equal(isSecretAllowed('DB-Password', ['db-password']), true);
  assert.equal(isSecretAllowed('db-password-2', ['db-password']), false);
  assert.equal(isSecretAllowed('app-one', ['app-*']), true);
  assert.equal(isSecretAllowed('apple', ['app-*']), false);
  assert.equal(isSecretAllowed('anything', ['*']), true);
});
