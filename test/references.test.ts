import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKeyVaultReference } from 'functions-keyvault/internal/keyVault/references.js';

const V = '0123456789abcdef0123456789abcdef';

test('SecretUri form, with and without version and trailing slash', () => {
  assert.deepEqual(
    parseKeyVaultReference('@Microsoft.KeyVault(SecretUri=https://MyVault.vault.azure.net/secrets/db-pass/)'),
    {
      kind: 'reference',
      reference: { vaultUrl: 'https://myvault.vault.azure.net/', name: 'db-pass' },
    },
  );
  assert.deepEqual(parseKeyVaultReference(`@Microsoft.KeyVault(SecretUri=https://v.vault.azure.cn/secrets/x/${V})`), {
    kind: 'reference',
    reference: { vaultUrl: 'https://v.vault.azure.cn/', name: 'x', version: V },
  });
  assert.deepEqual(parseKeyVaultReference('@Microsoft.KeyVault(SecretUri=https://127.0.0.1:8443/secrets/x)'), {
    kind: 'reference',
    reference: { vaultUrl: 'https://127.0.0.1:8443/', name: 'x' },
  });
});

test('VaultName form uses the given DNS suffix (no hard-coded cloud)', () => {
  assert.deepEqual(
    parseKeyVaultReference(`@Microsoft.KeyVault(VaultName=myvault;SecretName=api-key;SecretVersion=${V})`),
    {
      kind: 'reference',
      reference: { vaultUrl: 'https://myvault.vault.azure.net/', name: 'api-key', version: V },
    },
  );
  assert.deepEqual(
    parseKeyVaultReference('@Microsoft.KeyVault(VaultName=myvault;SecretName=api-key)', 'vault.usgovcloudapi.net'),
    {
      kind: 'reference',
      reference: { vaultUrl: 'https://myvault.vault.usgovcloudapi.net/', name: 'api-key' },
    },
  );
});

test('plain values are not references', () => {
  assert.deepEqual(parseKeyVaultReference('hello'), { kind: 'not-reference' });
  assert.deepEqual(parseKeyVaultReference(''), { kind: 'not-reference' });
});

test('malformed references are invalid, with an InvalidSyntax reason', () => {
  const bad = [
    '@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/x',
    '@Microsoft.KeyVault(SecretUri=http://v.vault.azure.net/secrets/x)',
    '@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/keys/x)',
    '@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/bad_name)',
    '@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/x/notaversion)',
    '@Microsoft.KeyVault(SecretUri=not a url)',
    '@Microsoft.KeyVault(VaultName=v)',
    '@Microsoft.KeyVault(VaultName=v;SecretName=x)',
    '@Microsoft.KeyVault(nonsense)',
  ];
  for (const value of bad) {
    const parsed = parseKeyVaultReference(value);
    assert.equal(parsed.kind, 'invalid', value);
    if (parsed.kind === 'invalid') assert.match(parsed.reason, /^InvalidSyntax/, value);
  }
});
