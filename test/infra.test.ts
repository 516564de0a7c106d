/**
 * Infra drift test: azure.yaml + infra/**\/*.bicep must keep matching what the app needs
 * (settings it reads, least-privilege Key Vault access, identity-only storage, hardening).
 * Text-level checks (no Bicep CLI needed); each assertion fails if the infra drifts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import type * as EventsHookModule from '../scripts/key-vault-events-subscription.mjs';
import { APP_SETTINGS } from 'functions-keyvault';
import { REQUIRED_DEPLOYMENT_SETTINGS } from '../src/appSettings.js';
import { KEY_VAULT_SECRET_EVENT_TYPES } from 'functions-keyvault/internal/events/keyVaultEvents.js';
import { declaringFile, loadFunctionModules, missingFromBicep } from './support/declaredSettings.js';
import { ROOT } from './support/projectRoot.js';

const KEY_VAULT_SECRETS_USER = '4633458b-17de-408a-b874-0445c86b69e6';
const KEY_VAULT_SECRETS_OFFICER = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7';
const DEMO_REFERENCE_SETTING = 'DEMO_SECRET_REFERENCE';
/** Platform settings Bicep may set besides the app's own (identity-based only: no connection strings with keys). */
const PLATFORM_SETTINGS = new Set([
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
]);

// ---------------------------------------------------------------------------------------------
// Locating and reading files
// ---------------------------------------------------------------------------------------------

function listFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return listFiles(path, suffix);
    return path.endsWith(suffix) ? [path] : [];
  });
}

interface BicepFile {
  path: string;
  /** Raw text. */
  raw: string;
  /** Text with // and /* *\/ comments removed (strings kept). */
  code: string;
}

/** Remove Bicep comments, leaving '...' strings (which may contain //) intact. */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

const INFRA = join(ROOT, 'infra');
const bicepFiles: BicepFile[] = listFiles(INFRA, '.bicep').map((path) => {
  const raw = readFileSync(path, 'utf8');
  return { path: relative(ROOT, path), raw, code: stripComments(raw) };
});
const mainBicep =
  bicepFiles.find((f) => f.path === join('infra', 'main.bicep')) ?? assert.fail('infra/main.bicep is missing');

// ---------------------------------------------------------------------------------------------
// Small Bicep text helpers
// ---------------------------------------------------------------------------------------------

/** Index just past the bracket that closes the one at `open` (skipping '...' strings). */
function matchingClose(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const ch = code[i];
    if (ch === "'") {
      i++;
      while (i < code.length && code[i] !== "'") i += code[i] === '\\' ? 2 : 1;
    } else if (ch === '{' || ch === '[' || ch === '(') depth++;
    else if (ch === '}' || ch === ']' || ch === ')') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error(`unbalanced brackets from offset ${open}`);
}

/** The expression starting at `start`: runs to the first newline outside any bracket. */
function expressionAt(code: string, start: number): string {
  let i = start;
  while (i < code.length && code[i] !== '\n') {
    if (code[i] === "'") {
      i++;
      while (i < code.length && code[i] !== "'") i += code[i] === '\\' ? 2 : 1;
      i++;
    } else if ('{[('.includes(code[i]!)) i = matchingClose(code, i);
    else i++;
  }
  return code.slice(start, i);
}

interface ResourceBlock {
  file: BicepFile;
  symbol: string;
  type: string;
  existing: boolean;
  body: string;
}

/** Every `resource sym 'Type@version' [existing] = [if (...)] [[for ...:] { body }` declaration. */
function resourceBlocks(files: BicepFile[] = bicepFiles): ResourceBlock[] {
  const blocks: ResourceBlock[] = [];
  for (const file of files) {
    const re = /\bresource\s+(\w+)\s+'([^'@]+)(?:@[^']*)?'\s*(existing\s*)?=/g;
    for (let m = re.exec(file.code); m; m = re.exec(file.code)) {
      const open = file.code.indexOf('{', re.lastIndex);
      const body = file.code.slice(open, matchingClose(file.code, open));
      blocks.push({ file, symbol: m[1]!, type: m[2]!, existing: Boolean(m[3]), body });
    }
  }
  return blocks;
}

function declared(type: string): ResourceBlock[] {
  return resourceBlocks().filter((b) => b.type.toLowerCase() === type.toLowerCase() && !b.existing);
}

function hasLine(body: string, pattern: string): boolean {
  return new RegExp(`^\\s*${pattern}\\s*$`, 'm').test(body);
}

/** Literal value of `'x'`, or of an identifier declared as `param id <type> = 'x'` / `var id = 'x'` in `code`. */
function resolveLiteral(expr: string, code: string): string | undefined {
  const literal = /^'([^'$]*)'$/.exec(expr.trim());
  if (literal) return literal[1];
  const id = /^[A-Za-z_]\w*$/.exec(expr.trim())?.[0];
  if (!id) return undefined;
  const decl = new RegExp(`^\\s*(?:param\\s+${id}\\s+\\w+|var\\s+${id})\\s*=\\s*'([^'$]*)'\\s*$`, 'm').exec(code);
  return decl?.[1];
}

export interface AppSetting {
  name: string;
  /** The Bicep value expression, as written. */
  value: string;
}

/**
 * App settings set in Bicep text. Looks at `var <x>Settings = <expr>` and `appSettings: <expr>`
 * (a module param or siteConfig.appSettings) and reads, one per line,
 *   - object form:          `NAME: value` / `'NAME': value`
 *   - name/value array form: `name: 'NAME'` followed by `value: value`.
 * Ternaries such as `cond ? { A: x } : {}` are included (both branches).
 */
export function extractAppSettings(bicepText: string): AppSetting[] {
  const code = stripComments(bicepText);
  const settings: AppSetting[] = [];
  const starts = /^[ \t]*(?:var\s+\w*[Ss]ettings\w*\s*=|appSettings\s*:)[ \t]*/gm;
  for (let m = starts.exec(code); m; m = starts.exec(code)) {
    const expr = expressionAt(code, starts.lastIndex);
    let pendingName: string | undefined;
    for (const line of expr.split('\n')) {
      const kv = /^\s*(?:'([^']+)'|([A-Za-z_][\w]*))\s*:\s*(.*?)\s*,?\s*$/.exec(line);
      if (!kv) continue;
      const key = (kv[1] ?? kv[2])!;
      const value = kv[3]!;
      if (key === 'name') {
        pendingName = resolveLiteral(value, code);
      } else if (key === 'value') {
        if (pendingName !== undefined) settings.push({ name: pendingName, value });
        pendingName = undefined;
      } else {
        settings.push({ name: key, value });
      }
    }
  }
  return settings;
}

interface LocatedSetting extends AppSetting {
  file: BicepFile;
}

const appSettings: LocatedSetting[] = bicepFiles.flatMap((file) =>
  extractAppSettings(file.raw).map((s) => ({ ...s, file })),
);

function setting(name: string): LocatedSetting {
  const found = appSettings.filter((s) => s.name === name);
  assert.equal(found.length, 1, `app setting ${name} should be set exactly once in infra (found ${found.length})`);
  return found[0]!;
}

// ---------------------------------------------------------------------------------------------
// azure.yaml
// ---------------------------------------------------------------------------------------------

test('azure.yaml declares the api service as a TypeScript Function App rooted at the repo', () => {
  const doc = parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
    name?: unknown;
    services?: Record<string, { project?: unknown; language?: unknown; host?: unknown }>;
  };
  assert.match(String(doc.name), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'azd project name');
  const services = doc.services ?? {};
  assert.deepEqual(Object.keys(services), ['api']);
  const api = services.api!;
  assert.equal(api.host, 'function');
  assert.ok(['ts', 'typescript'].includes(String(api.language)), `language is ${String(api.language)}`);
  assert.equal(typeof api.project, 'string');
  assert.equal(resolve(ROOT, api.project as string), ROOT, 'project path must be the repo root');
  assert.ok(existsSync(join(ROOT, api.project as string, 'package.json')), 'project dir has package.json');
});

// ---------------------------------------------------------------------------------------------
// main.bicep / main.parameters.json
// ---------------------------------------------------------------------------------------------

test('main.parameters.json only passes parameters main.bicep declares, and covers the required ones', () => {
  const json = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as {
    parameters?: Record<string, { value?: unknown }>;
  };
  const passed = Object.keys(json.parameters ?? {});
  assert.ok(passed.length > 0, 'parameters file passes nothing');
  const declaredParams = new Map<string, boolean>(); // name -> has a default value
  for (const m of mainBicep.code.matchAll(/^\s*param\s+(\w+)\s+([^\n]*)$/gm)) {
    declaredParams.set(m[1]!, m[2]!.includes('='));
  }
  for (const name of passed) assert.ok(declaredParams.has(name), `main.parameters.json passes unknown param ${name}`);
  for (const [name, hasDefault] of declaredParams) {
    if (!hasDefault)
      assert.ok(passed.includes(name), `param ${name} has no default and is not in main.parameters.json`);
  }
  assert.equal(json.parameters?.environmentName?.value, '${AZURE_ENV_NAME}');
  assert.equal(json.parameters?.location?.value, '${AZURE_LOCATION}');
});

test('the deploying principal type comes from AZURE_PRINCIPAL_TYPE (default User) and reaches its role assignment', () => {
  const json = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as {
    parameters?: Record<string, { value?: unknown }>;
  };
  // azd sets AZURE_PRINCIPAL_TYPE (User or ServicePrincipal); without the mapping a CI run under a service principal
  // fails with UnmatchedPrincipalType.
  assert.equal(json.parameters?.principalType?.value, '${AZURE_PRINCIPAL_TYPE=User}');
  assert.equal(json.parameters?.principalId?.value, '${AZURE_PRINCIPAL_ID}');
  assert.match(
    mainBicep.code,
    /^\s*param\s+principalType\s+string\s*=\s*'User'\s*$/m,
    "param principalType defaults to 'User'",
  );
  const allowed = /@allowed\(\[([^\]]*)\]\)\s*param\s+principalType\b/.exec(mainBicep.code)?.[1] ?? '';
  for (const type of ['User', 'ServicePrincipal'])
    assert.ok(allowed.includes(`'${type}'`), `principalType allows ${type}`);

  const rbacModule = /\bmodule\s+\w+\s+'app\/rbac\.bicep'\s*=\s*\{/.exec(mainBicep.code);
  assert.ok(rbacModule, 'main.bicep uses app/rbac.bicep');
  const rbacBody = mainBicep.code.slice(
    rbacModule.index,
    matchingClose(mainBicep.code, rbacModule.index + rbacModule[0].length - 1),
  );
  assert.match(rbacBody, /userPrincipalId:\s*principalId\b/);
  assert.match(rbacBody, /userPrincipalType:\s*principalType\b/);
  const officer = assertVaultScopedOnly(KEY_VAULT_SECRETS_OFFICER, true);
  for (const block of officer) {
    assert.match(
      block.body,
      /principalType:\s*userPrincipalType\b/,
      `${block.symbol}: principalType from the parameter`,
    );
  }
});

/** The runtime the infra deploys by default: the newest GA LTS on Flex Consumption (source cited in main.bicep). */
const RUNTIME_NODE_MAJOR = '22';

test('Node.js: the infra default is the runtime major, every file agrees, and package.json engines has that floor', () => {
  for (const path of [join('infra', 'main.bicep'), join('infra', 'app', 'api.bicep')]) {
    const file = bicepFiles.find((f) => f.path === path) ?? assert.fail(`${path} is missing`);
    assert.match(
      file.code,
      new RegExp(`^\\s*param\\s+nodeVersion\\s+string\\s*=\\s*'${RUNTIME_NODE_MAJOR}'\\s*$`, 'm'),
      `${path}: nodeVersion defaults to '${RUNTIME_NODE_MAJOR}'`,
    );
    const allowed = /@allowed\(\[([^\]]*)\]\)\s*param\s+nodeVersion\b/.exec(file.code)?.[1] ?? '';
    const majors = [...allowed.matchAll(/'(\d+)'/g)].map((m) => Number(m[1]));
    assert.ok(majors.includes(Number(RUNTIME_NODE_MAJOR)), `${path}: allows ${RUNTIME_NODE_MAJOR}`);
    assert.ok(
      majors.every((major) => major >= Number(RUNTIME_NODE_MAJOR)),
      `${path}: no Node older than ${RUNTIME_NODE_MAJOR} (end of life) is allowed (got ${allowed})`,
    );
  }
  const site = declared('Microsoft.Web/sites')[0]!;
  assert.match(site.body, /runtime:\s*\{\s*name:\s*'node'\s*version:\s*nodeVersion\s*\}/, 'the site runs nodeVersion');
  assert.match(mainBicep.code, /\bnodeVersion:\s*nodeVersion\b/, 'main.bicep passes nodeVersion to the app');

  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  assert.equal(pkg.engines?.node, `>=${RUNTIME_NODE_MAJOR}`, 'package.json engines.node floor is the runtime major');
  const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
  assert.match(ci, new RegExp(`^RUNTIME_NODE_MAJOR=${RUNTIME_NODE_MAJOR}$`, 'm'), '.ci/run tests on the runtime major');
});

test('main.bicep targets the subscription, creates rg-<env> and exposes the outputs azd and the docs use', () => {
  assert.match(mainBicep.code, /^targetScope\s*=\s*'subscription'/m);
  const rg = declared('Microsoft.Resources/resourceGroups');
  assert.equal(rg.length, 1);
  assert.match(rg[0]!.body, /name:\s*'rg-\$\{environmentName\}'/);
  assert.match(rg[0]!.body, /tags:\s*tags/);
  assert.match(mainBicep.code, /'azd-env-name':\s*environmentName/);
  for (const output of [
    'AZURE_LOCATION',
    'AZURE_TENANT_ID',
    'AZURE_RESOURCE_GROUP',
    'AZURE_FUNCTION_APP_NAME',
    'KEY_VAULT_URL',
    'PING_URL',
  ]) {
    assert.match(mainBicep.code, new RegExp(`^output\\s+${output}\\s+string\\s*=`, 'm'), `output ${output}`);
  }
  assert.match(mainBicep.code, /^output\s+PING_URL\s+string\s*=\s*'https:\/\/\$\{[^}]+\}\/api\/ping'/m);
});

/**
 * Outputs of conditional modules (`module m '...' = if (cond)`) read anywhere in `code`, and how many of those reads
 * are guarded as `cond ? m!.outputs.x`. ARM's if() evaluates only the branch taken, so the guarded form never touches a
 * module that was not deployed; `m.?outputs.x ?? ''` and bare `m.outputs.x` compile (Bicep < 0.36.177) to a
 * reference() that ARM evaluates anyway and fails with DeploymentNotFound.
 */
export function conditionalModuleOutputReads(code: string): { module: string; reads: number; guarded: number }[] {
  const result: { module: string; reads: number; guarded: number }[] = [];
  for (const m of code.matchAll(/\bmodule\s+(\w+)\s+'[^']+'\s*=\s*if\s*\(/g)) {
    const symbol = m[1]!;
    const open = m.index + m[0].length - 1;
    const condition = code.slice(open + 1, matchingClose(code, open) - 1).trim();
    const escaped = condition.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const reads = [...code.matchAll(new RegExp(`\\b${symbol}\\s*(?:!\\s*\\.|\\.\\?|\\.)\\s*outputs\\b`, 'g'))].length;
    const guarded = [
      ...code.matchAll(new RegExp(`\\(?\\s*${escaped}\\s*\\)?\\s*\\?\\s*\\(?\\s*${symbol}!\\.outputs\\.\\w+`, 'g')),
    ].length;
    result.push({ module: symbol, reads, guarded });
  }
  return result;
}

test('conditionalModuleOutputReads tells guarded reads from unguarded ones (guards the check below)', () => {
  const code = [
    "module id 'x.bicep' = if (useId) {",
    "  name: 'id'",
    '}',
    "var a = useId ? id!.outputs.clientId : ''",
    "var b = id.?outputs.resourceId ?? ''",
    'var c = id.outputs.principalId',
  ].join('\n');
  assert.deepEqual(conditionalModuleOutputReads(code), [{ module: 'id', reads: 3, guarded: 1 }]);
});

test('outputs of conditional modules are read only behind their own condition (works on every azd/Bicep)', () => {
  let modules = 0;
  for (const file of bicepFiles) {
    for (const { module, reads, guarded } of conditionalModuleOutputReads(file.code)) {
      modules += 1;
      assert.equal(
        guarded,
        reads,
        `${file.path}: ${reads - guarded} read(s) of ${module}.outputs are not guarded as \`<condition> ? ${module}!.outputs.x\``,
      );
    }
  }
  assert.ok(modules > 0, "main.bicep declares conditional modules (the private deployment's VNet and endpoints)");
});

test('every module path referenced in Bicep exists', () => {
  for (const file of bicepFiles) {
    for (const m of file.code.matchAll(/\bmodule\s+\w+\s+'([^']+)'/g)) {
      if (m[1]!.startsWith('br/') || m[1]!.startsWith('ts/')) continue;
      const target = resolve(ROOT, dirname(file.path), m[1]!);
      assert.ok(existsSync(target), `${file.path}: module ${m[1]} not found`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Security posture
// ---------------------------------------------------------------------------------------------

test('no account keys, SAS or listKeys anywhere in infra', () => {
  const infraFiles = [...listFiles(INFRA, '.bicep'), ...listFiles(INFRA, '.json')];
  for (const path of infraFiles) {
    const text = readFileSync(path, 'utf8');
    for (const banned of [
      /AccountKey=/i,
      /listKeys\(/i,
      /listAccountSas\(/i,
      /listServiceSas\(/i,
      /SharedAccessSignature=/i,
    ]) {
      assert.doesNotMatch(text, banned, `${relative(ROOT, path)} contains ${banned}`);
    }
  }
});

test('Key Vault: RBAC mode, soft delete, purge protection by parameter, standard SKU, subscription tenant', () => {
  const vaults = declared('Microsoft.KeyVault/vaults');
  assert.equal(vaults.length, 1, 'exactly one Key Vault is declared');
  const { body } = vaults[0]!;
  assert.ok(hasLine(body, 'enableRbacAuthorization: true'), 'enableRbacAuthorization: true');
  assert.ok(hasLine(body, 'enableSoftDelete: true'), 'enableSoftDelete: true');
  // Purge protection is a parameter; `false` is never sent (Key Vault rejects it for a vault that has it on).
  assert.ok(
    hasLine(body, 'enablePurgeProtection: enablePurgeProtection \\? true : null'),
    'enablePurgeProtection: <param> ? true : null',
  );
  assert.ok(hasLine(body, 'tenantId: subscription\\(\\)\\.tenantId'), 'tenantId from subscription()');
  assert.match(body, /sku:\s*\{[^}]*name:\s*'standard'/);
  assert.match(body, /publicNetworkAccess:\s*\w+/);
  assert.doesNotMatch(body, /accessPolicies:\s*\[\s*\{/, 'no access policies in RBAC mode');
});

/** Role assignments of `roleId` must be resource-scoped to a Key Vault and nothing broader. */
function assertVaultScopedOnly(roleId: string, required: boolean): ResourceBlock[] {
  const assignments = resourceBlocks().filter(
    (b) => b.type === 'Microsoft.Authorization/roleAssignments' && !b.existing,
  );
  const found: ResourceBlock[] = [];
  for (const file of bicepFiles) {
    const vars = [...file.code.matchAll(new RegExp(`^\\s*var\\s+(\\w+)\\s*=\\s*'${roleId}'\\s*$`, 'gm'))].map(
      (m) => m[1]!,
    );
    const vaultSymbols = resourceBlocks([file])
      .filter((b) => b.type === 'Microsoft.KeyVault/vaults')
      .map((b) => b.symbol);
    const usesRole = (text: string) => text.includes(roleId) || vars.some((v) => new RegExp(`\\b${v}\\b`).test(text));
    const scopedOk: string[] = [];
    for (const block of assignments.filter((b) => b.file === file && usesRole(b.body))) {
      const scope = /^\s*scope:\s*(\w+)\s*$/m.exec(block.body)?.[1];
      assert.ok(
        scope !== undefined && vaultSymbols.includes(scope),
        `${file.path}: role assignment ${block.symbol} of ${roleId} must have scope: <Key Vault resource> (got ${scope ?? 'none'})`,
      );
      assert.match(
        block.body,
        new RegExp(`name:\\s*guid\\(${scope}\\.id,`),
        `${block.symbol}: name = guid(vault.id, ...)`,
      );
      scopedOk.push(block.body);
      found.push(block);
    }
    // Any other mention of the role (literal or its var) would be an assignment somewhere else, e.g. a
    // generic role module at resource-group or subscription scope.
    let rest = file.code;
    for (const body of scopedOk) rest = rest.replace(body, '');
    rest = rest.replace(new RegExp(`^\\s*var\\s+\\w+\\s*=\\s*'${roleId}'\\s*$`, 'gm'), '');
    assert.ok(!usesRole(rest), `${file.path}: ${roleId} is used outside a vault-scoped role assignment`);
  }
  if (required) assert.ok(found.length > 0, `no role assignment of ${roleId} found`);
  return found;
}

test('Key Vault Secrets User is granted to the app identity, scoped to the vault only', () => {
  for (const block of assertVaultScopedOnly(KEY_VAULT_SECRETS_USER, true)) {
    assert.match(block.body, /principalType:\s*'ServicePrincipal'/, `${block.symbol}: granted to a managed identity`);
  }
});

test('Key Vault Secrets Officer (deploying user), if present, is scoped to the vault only', () => {
  assertVaultScopedOnly(KEY_VAULT_SECRETS_OFFICER, false);
});

test('storage: no shared keys, TLS 1.2, no public blobs', () => {
  const accounts = declared('Microsoft.Storage/storageAccounts');
  assert.ok(accounts.length >= 1);
  for (const { body } of accounts) {
    assert.ok(hasLine(body, 'allowSharedKeyAccess: false'), 'allowSharedKeyAccess: false');
    assert.ok(hasLine(body, 'allowBlobPublicAccess: false'), 'allowBlobPublicAccess: false');
    assert.ok(hasLine(body, "minimumTlsVersion: 'TLS1_2'"), "minimumTlsVersion: 'TLS1_2'");
  }
});

test('Function App: Flex Consumption, node runtime, hardened, managed identity, azd tag', () => {
  const plans = declared('Microsoft.Web/serverfarms');
  assert.equal(plans.length, 1);
  assert.match(plans[0]!.body, /name:\s*'FC1'/);
  assert.match(plans[0]!.body, /tier:\s*'FlexConsumption'/);

  const sites = declared('Microsoft.Web/sites');
  assert.equal(sites.length, 1, 'exactly one Function App');
  const { body } = sites[0]!;
  assert.ok(hasLine(body, 'httpsOnly: true'), 'httpsOnly: true');
  assert.ok(hasLine(body, "minTlsVersion: '1.2'"), "minTlsVersion: '1.2'");
  // Flex Consumption rejects siteConfig.ftpsState (BadRequest 51021), also through a sites/config 'web' resource; FTP
  // is off through the publishing policies below instead.
  for (const file of bicepFiles) {
    assert.doesNotMatch(file.code, /\bftpsState\b/, `${file.path}: no ftpsState on a Flex Consumption site`);
  }
  assert.match(body, /kind:\s*'functionapp,linux'/);
  assert.match(body, /'azd-service-name':\s*'api'/);
  // One identity: the user-assigned one main.bicep creates and grants before the site (docs/deployment.md).
  assert.match(
    body,
    /identity:\s*\{\s*type:\s*'UserAssigned'\s*userAssignedIdentities:/,
    'user-assigned identity only',
  );
  assert.doesNotMatch(body, /SystemAssigned/, 'no system-assigned identity on the site');
  assert.ok(hasLine(body, 'keyVaultReferenceIdentity: userAssignedIdentityId'), 'Key Vault references use it');
  assert.match(body, /functionAppConfig:\s*\{[\s\S]*runtime:\s*\{\s*name:\s*'node'/);
  assert.match(body, /type:\s*'blobContainer'/);
  assert.match(
    body,
    /authentication:\s*\{\s*type:\s*'UserAssignedIdentity',\s*userAssignedIdentityResourceId:\s*userAssignedIdentityId\s*\}/,
    'deployment storage with the user-assigned identity',
  );

  const policies = resourceBlocks().filter((b) => /basicPublishingCredentialsPolicies$/.test(b.type));
  for (const name of ['ftp', 'scm']) {
    const policy = policies.find((p) => new RegExp(`name:\\s*'${name}'`).test(p.body));
    assert.ok(policy, `basicPublishingCredentialsPolicies ${name}`);
    assert.match(policy.body, /allow:\s*false/, `${name} basic auth disabled`);
  }
});

// ---------------------------------------------------------------------------------------------
// App settings vs the package's APP_SETTINGS and src/appSettings.ts (REQUIRED_DEPLOYMENT_SETTINGS)
// ---------------------------------------------------------------------------------------------

test('extractAppSettings reads object and name/value forms (guards the checks below)', () => {
  const sample = [
    'var fooSettings = cond ? {',
    '  KEY_VAULT_URL: vault.properties.vaultUri // comment',
    "  'AzureWebJobsStorage__accountName': storage.name",
    '} : {}',
    'resource site ... = {',
    '  siteConfig: {',
    '    appSettings: [',
    '      {',
    "        name: 'SECRETS_ALLOWED'",
    "        value: 'a,b'",
    '      }',
    '    ]',
    "    location: 'not-a-setting'",
    '  }',
    '}',
  ].join('\n');
  assert.deepEqual(
    extractAppSettings(sample).map((s) => [s.name, s.value]),
    [
      ['KEY_VAULT_URL', 'vault.properties.vaultUri'],
      ['AzureWebJobsStorage__accountName', 'storage.name'],
      ['SECRETS_ALLOWED', "'a,b'"],
    ],
  );
});

test('Bicep sets every app setting the app requires', () => {
  for (const name of REQUIRED_DEPLOYMENT_SETTINGS) setting(name);
  assert.match(
    setting(APP_SETTINGS.KEY_VAULT_URL).value,
    /vaultUri|outputs\.uri/,
    'KEY_VAULT_URL comes from the vault',
  );
  setting('AzureWebJobsStorage__blobServiceUri');
  setting(APP_SETTINGS.SECRET_CACHE_TTL_SECONDS);
});

// The settings the functions declare next to the code that reads them (declareSetting), read from the modules.
const functionSettings = await loadFunctionModules();

test('Bicep sets every setting a function declares required (declareSetting), or says what to add where', () => {
  const set = new Set(appSettings.map((s) => s.name));
  for (const declaration of functionSettings.filter((d) => d.required)) {
    assert.ok(
      set.has(declaration.name),
      missingFromBicep(declaration, declaringFile(declaration.name, join(ROOT, 'src'))),
    );
  }
});

test('Bicep sets no app setting the app does not know (typos, stale names, key-based connections)', () => {
  const known = new Set<string>([
    ...Object.values(APP_SETTINGS),
    ...functionSettings.map((d) => d.name),
    ...PLATFORM_SETTINGS,
    DEMO_REFERENCE_SETTING,
  ]);
  assert.ok(appSettings.length >= REQUIRED_DEPLOYMENT_SETTINGS.length);
  for (const s of appSettings) {
    assert.ok(
      known.has(s.name),
      `${s.file.path}: app setting ${s.name} is neither declared (APP_SETTINGS, or declareSetting() in a function ` +
        'file) nor a known platform setting. Declare a setting your code reads next to that code ' +
        '(docs/your-own-function.md); otherwise fix the name',
    );
  }
});

/**
 * Default of CONFIG_CHECK_SETTINGS per deployment mode: its value is the `configCheckSettings` param, whose default is
 * `vnetEnabled ? '<private>' : '<public>'`.
 */
function configCheckDefaults(): { public: string; private: string } {
  const configCheck = setting(APP_SETTINGS.CONFIG_CHECK_SETTINGS);
  assert.equal(
    configCheck.value,
    'configCheckSettings',
    'CONFIG_CHECK_SETTINGS comes from the configCheckSettings param',
  );
  const expr = mainParamDefault('configCheckSettings') ?? '';
  const m = /^vnetEnabled \? '([^'$]*)' : '([^'$]*)'$/.exec(expr);
  assert.ok(m, `configCheckSettings default ${expr} must be vnetEnabled ? '<private>' : '<public>'`);
  return { private: m[1]!, public: m[2]! };
}

function publicConfigCheckDefault(): string {
  return configCheckDefaults().public;
}

test('the demo Key Vault reference is real and is what /api/config/check reports on', () => {
  const reference = setting(DEMO_REFERENCE_SETTING);
  assert.match(
    reference.value,
    /^'@Microsoft\.KeyVault\((SecretUri=[^)]*\/secrets\/[^)]+|SecretUri=\$\{[^}]+\}secrets\/[^)]+|VaultName=[^;)]+;SecretName=[^)]+)\)'$/,
    'DEMO_SECRET_REFERENCE must be @Microsoft.KeyVault(SecretUri=...)',
  );

  // The public deployment's config check reports on it (the private one sets no platform reference, see below).
  const configCheckDefault = publicConfigCheckDefault();
  assert.ok(
    configCheckDefault
      .split(',')
      .map((s) => s.trim())
      .includes(DEMO_REFERENCE_SETTING),
  );

  // The referenced secret is one the app may serve, and Bicep creates it.
  const secretExpr = /secrets\/(?:\$\{(\w+)\}|([\w-]+))/.exec(reference.value);
  assert.ok(secretExpr, 'secret name in the reference');
  const secretName = secretExpr[2] ?? resolveLiteral(secretExpr[1]!, reference.file.code);
  assert.ok(secretName, 'resolvable secret name');
  const allowed = setting(APP_SETTINGS.SECRETS_ALLOWED);
  const allowedDefault = resolveLiteral(allowed.value, allowed.file.code) ?? '';
  assert.ok(
    allowedDefault
      .split(',')
      .map((s) => s.trim())
      .includes(secretName),
    `SECRETS_ALLOWED default includes ${secretName}`,
  );
  assert.ok(declared('Microsoft.KeyVault/vaults/secrets').length >= 1, 'a secret resource is declared');
});

// ---------------------------------------------------------------------------------------------
// Key Vault events: system topic in Bicep, subscription by the api service's postdeploy hook
// ---------------------------------------------------------------------------------------------

const eventsHook = (await import(
  pathToFileURL(join(ROOT, 'scripts', 'key-vault-events-subscription.mjs')).href
)) as typeof EventsHookModule;

test('Key Vault events: one Event Grid system topic, on the vault, in its region, identity only for dead-lettering, no roles', () => {
  const topics = declared('Microsoft.EventGrid/systemTopics');
  assert.equal(topics.length, 1, 'exactly one system topic');
  const topic = topics[0]!;
  assert.ok(hasLine(topic.body, "topicType: 'Microsoft.KeyVault.vaults'"), 'topic type: Key Vault');
  const source = /^\s*source:\s*(\w+)\.id\s*$/m.exec(topic.body)?.[1];
  const vaults = resourceBlocks([topic.file]).filter((b) => b.type === 'Microsoft.KeyVault/vaults');
  assert.ok(
    source !== undefined && vaults.some((v) => v.symbol === source),
    `${topic.file.path}: source must be <Key Vault resource>.id (got ${source ?? 'none'})`,
  );
  assert.ok(hasLine(topic.body, 'location: location'), 'the topic is placed with a location parameter');
  // Webhook delivery needs no identity: the topic has one only for dead-lettering.
  assert.match(
    topic.body,
    /identity:\s*\{\s*type:\s*deadLetterEnabled \? 'SystemAssigned' : 'None'\s*\}/,
    'a topic identity only with dead-lettering',
  );
  assert.equal(
    resourceBlocks([topic.file]).filter((b) => b.type === 'Microsoft.Authorization/roleAssignments').length,
    0,
    'the events module grants nothing',
  );

  // main.bicep feeds it the vault the app reads and the vault's region, and tells azd the topic name.
  const relPath = relative(join(ROOT, 'infra'), join(ROOT, topic.file.path)).split('\\').join('/');
  const use = new RegExp(`\\bmodule\\s+(\\w+)\\s+'${relPath.replace(/[.]/g, '\\.')}'\\s*=\\s*\\{`).exec(mainBicep.code);
  assert.ok(use, `main.bicep uses ${relPath}`);
  const body = mainBicep.code.slice(use.index, matchingClose(mainBicep.code, use.index + use[0].length - 1));
  const vaultModule = /\bmodule\s+(\w+)\s+'core\/security\/keyvault\.bicep'/.exec(mainBicep.code)?.[1];
  assert.ok(vaultModule, 'main.bicep creates the vault with core/security/keyvault.bicep');
  assert.match(
    body,
    new RegExp(`keyVaultName:\\s*${vaultModule}\\.outputs\\.name\\b`),
    'the topic is on the app vault',
  );
  assert.match(body, /^\s*location:\s*location\s*$/m, 'the topic is in the region the vault is created in');
  assert.match(
    mainBicep.code,
    new RegExp(`^output\\s+KEY_VAULT_EVENTS_TOPIC_NAME\\s+string\\s*=\\s*${use[1]}\\.outputs\\.name\\s*$`, 'm'),
  );
});

test('Key Vault events: the subscription is the hook’s, for exactly the three secret event types, to secretEvents', () => {
  // Not declared in Bicep: Event Grid validates the endpoint on creation and azd provisions before it deploys.
  for (const type of [
    'Microsoft.EventGrid/systemTopics/eventSubscriptions',
    'Microsoft.EventGrid/eventSubscriptions',
  ]) {
    assert.equal(declared(type).length, 0, `${type} is created by the postdeploy hook, not by Bicep`);
  }
  const doc = parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
    services?: { api?: { hooks?: { postdeploy?: Record<string, { shell?: string; run?: string }> } } };
  };
  const hook = doc.services?.api?.hooks?.postdeploy ?? assert.fail('the api service has no postdeploy hook');
  for (const os of ['posix', 'windows']) {
    assert.equal(hook[os]?.run, 'node scripts/key-vault-events.mjs', `${os} hook`);
  }
  assert.ok(existsSync(join(ROOT, 'scripts', 'key-vault-events.mjs')));

  // Everything the hook reads is an output of main.bicep (or AZURE_SUBSCRIPTION_ID, which azd sets).
  const samples: Record<string, string> = {
    AZURE_RESOURCE_GROUP: 'rg-env',
    AZURE_FUNCTION_APP_NAME: 'func-api-abc',
    KEY_VAULT_EVENTS_TOPIC_NAME: 'evgt-kv-abc',
    PING_URL: 'https://func-api-abc.azurewebsites.net/api/ping',
  };
  const outputs = [...mainBicep.code.matchAll(/^output\s+(\w+)\s/gm)].map((m) => m[1]!);
  const env: Record<string, string> = { AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000' };
  for (const name of outputs) if (samples[name] !== undefined) env[name] = samples[name];
  const settings = eventsHook.settingsFrom(env);

  const body = eventsHook.subscriptionBody(eventsHook.webhookUrl(settings.functionHost, 'key'));
  assert.deepEqual(
    [...body.properties.filter.includedEventTypes].sort(),
    [...KEY_VAULT_SECRET_EVENT_TYPES].sort(),
    'exactly the event types the function handles',
  );
  assert.equal(new Set(body.properties.filter.includedEventTypes).size, 3);
  const endpoint = new URL(body.properties.destination.properties.endpointUrl);
  assert.equal(endpoint.host, new URL(samples.PING_URL!).host, 'delivered to the deployed app');
  assert.equal(endpoint.pathname, '/runtime/webhooks/eventgrid', "the host's Event Grid trigger endpoint");
  const registered = /app\.eventGrid\('([^']+)'/.exec(
    readFileSync(join(ROOT, 'src', 'functions', 'secretEvents.ts'), 'utf8'),
  )?.[1];
  assert.equal(endpoint.searchParams.get('functionName'), registered, 'the function the app registers');
  assert.match(settings.subscriptionResourceId, /\/providers\/Microsoft\.EventGrid\/systemTopics\/evgt-kv-abc\//);
});

// ---------------------------------------------------------------------------------------------
// First deploy without a role race, private deployment, regions, diagnostics, scale, purge protection
// ---------------------------------------------------------------------------------------------

/** `module <symbol> '<path>' = [if (...)] { body }` in main.bicep: symbol, condition (if any) and body. */
function mainModule(path: string): { symbol: string; condition: string | undefined; body: string } {
  const escaped = path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(`\\bmodule\\s+(\\w+)\\s+'${escaped}'\\s*=\\s*(?:if\\s*\\(([^)]*)\\)\\s*)?\\{`).exec(
    mainBicep.code,
  );
  assert.ok(m, `main.bicep uses ${path}`);
  const open = m.index + m[0].length - 1;
  return {
    symbol: m[1]!,
    condition: m[2]?.trim(),
    body: mainBicep.code.slice(open, matchingClose(mainBicep.code, open)),
  };
}

function bicep(path: string): BicepFile {
  return bicepFiles.find((f) => f.path === join(...path.split('/'))) ?? assert.fail(`${path} is missing`);
}

function mainParamDefault(name: string): string | undefined {
  return new RegExp(`^\\s*param\\s+${name}\\s+\\w+\\s*=\\s*(.+?)\\s*$`, 'm').exec(mainBicep.code)?.[1];
}

function parametersFile(): Record<string, { value?: unknown }> {
  const json = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as {
    parameters?: Record<string, { value?: unknown }>;
  };
  return json.parameters ?? {};
}

test('the app identity is user-assigned, created and granted before the site (no deploy-time role race)', () => {
  const identity = mainModule('core/security/user-assigned-identity.bicep');
  assert.equal(identity.condition, undefined, 'the identity module is unconditional');
  const rbac = mainModule('app/rbac.bicep');
  assert.match(
    rbac.body,
    new RegExp(`appPrincipalId:\\s*${identity.symbol}\\.outputs\\.principalId\\b`),
    'the roles go to the user-assigned identity',
  );
  const api = mainModule('app/api.bicep');
  assert.doesNotMatch(rbac.body, new RegExp(`\\b${api.symbol}\\.outputs\\b`), 'no grant waits for the site');
  assert.match(
    api.body,
    new RegExp(`dependsOn:\\s*\\[[^\\]]*\\b${rbac.symbol}\\b`),
    'the site is created after the grants',
  );
  assert.match(api.body, new RegExp(`userAssignedIdentityId:\\s*${identity.symbol}\\.outputs\\.resourceId\\b`));
  for (const file of bicepFiles) {
    assert.doesNotMatch(
      file.code,
      /SystemAssignedIdentity|systemAssignedPrincipalId/,
      `${file.path}: one identity story`,
    );
  }
  // The host, the app's credential and telemetry all name the identity, unconditionally.
  const settings = bicep('infra/app/api-settings.bicep');
  assert.doesNotMatch(settings.code, /\?\s*\{/, 'no identity setting hides in a conditional');
  assert.equal(setting('AzureWebJobsStorage__credential').value, "'managedidentity'");
  assert.equal(setting('AzureWebJobsStorage__clientId').value, 'userAssignedClientId');
  assert.equal(setting('AZURE_CLIENT_ID').value, 'userAssignedClientId');
  assert.match(
    setting('APPLICATIONINSIGHTS_AUTHENTICATION_STRING').value,
    /ClientId=\$\{userAssignedClientId\};Authorization=AAD/,
  );
  assert.match(
    mainModule('app/api-settings.bicep').body,
    new RegExp(`userAssignedClientId:\\s*${identity.symbol}\\.outputs\\.clientId\\b`),
  );
});

test('every role assignment, and so every storage grant, lives in app/rbac.bicep, each on one resource', () => {
  const assignments = declared('Microsoft.Authorization/roleAssignments');
  assert.ok(assignments.length >= 4);
  for (const block of assignments) {
    assert.equal(block.file.path, join('infra', 'app', 'rbac.bicep'), `${block.symbol} is outside rbac.bicep`);
    assert.match(block.body, /^\s*scope:\s*[\w:]+\s*$/m, `${block.symbol}: scoped to one resource`);
  }
  const rbac = bicep('infra/app/rbac.bicep');
  const storageSection = rbac.code.slice(rbac.code.indexOf('var storageBlobDataOwnerRoleId'));
  assert.ok(storageSection.includes('b7e6dc6d-f1e8-4753-8033-0f276bb0955b'), 'Storage Blob Data Owner for the app');
  // Dead-letter writes: Storage Blob Data Contributor on the one container, only when dead-lettering is on.
  const deadLetter = assignments.find((b) => b.body.includes('storageBlobDataContributorRoleId'));
  assert.ok(deadLetter, 'a dead-letter grant');
  assert.match(deadLetter.body, /scope:\s*storage::blobServices::deadLetterContainer\b/);
  assert.match(rbac.code, /resource deadLetterBlobDataContributor '[^']+' = if \(!empty\(deadLetterPrincipalId\)\)/);
});

test('the Flex Consumption region list fails a wrong region before anything is created', () => {
  const allowed = /@allowed\(\[([^\]]*)\]\)\s*@metadata\([^)]*\)\s*param\s+location\b/.exec(mainBicep.code)?.[1];
  assert.ok(allowed, 'param location has an @allowed list');
  const regions = [...allowed.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  assert.ok(regions.length >= 20, `${regions.length} regions`);
  for (const region of regions) assert.match(region, /^[a-z0-9]+$/, `${region}: an ARM location name`);
  for (const region of ['eastus', 'eastus2', 'westeurope', 'swedencentral']) assert.ok(regions.includes(region));
  assert.ok(!regions.includes('eastus2euap'), 'no canary region');
});

test('private deployment (vnetEnabled): VNet integration, private endpoints + DNS zones, public access off', () => {
  assert.equal(mainParamDefault('vnetEnabled'), 'false', 'off by default');
  assert.equal(parametersFile().vnetEnabled?.value, '${VNET_ENABLED=false}');
  assert.match(mainBicep.code, /^var publicNetworkAccess = vnetEnabled \? 'Disabled' : 'Enabled'$/m);
  // Key Vault public access is never switched off without the private endpoint (no separate parameter).
  assert.doesNotMatch(mainBicep.code, /param\s+keyVaultPublicNetworkAccess\b/);
  assert.match(mainModule('core/security/keyvault.bicep').body, /publicNetworkAccess:\s*publicNetworkAccess\b/);
  assert.match(mainModule('core/storage/storage-account.bicep').body, /publicNetworkAccess:\s*publicNetworkAccess\b/);

  const vnet = mainModule('app/vnet.bicep');
  const endpoints = mainModule('app/private-endpoints.bicep');
  assert.equal(vnet.condition, 'vnetEnabled');
  assert.equal(endpoints.condition, 'vnetEnabled');
  const api = mainModule('app/api.bicep');
  assert.match(
    api.body,
    new RegExp(`virtualNetworkSubnetId:\\s*vnetEnabled \\? ${vnet.symbol}!\\.outputs\\.appSubnetId : ''`),
  );
  assert.match(
    api.body,
    new RegExp(`dependsOn:\\s*\\[[^\\]]*\\b${endpoints.symbol}\\b`),
    'the site waits for the endpoints',
  );
  assert.match(
    declared('Microsoft.Web/sites')[0]!.body,
    /virtualNetworkSubnetId:\s*empty\(virtualNetworkSubnetId\) \? null : virtualNetworkSubnetId/,
  );

  const network = bicep('infra/app/vnet.bicep').code;
  assert.match(network, /serviceName:\s*'Microsoft\.App\/environments'/, 'app subnet delegated for Flex');
  assert.match(network, /privateEndpointNetworkPolicies:\s*'Disabled'/);

  const pe = bicep('infra/app/private-endpoints.bicep').code;
  assert.match(
    pe,
    /groupId:\s*'vault'[\s\S]*zone:\s*'privatelink\.vaultcore\.azure\.net'/,
    'Key Vault endpoint + zone',
  );
  assert.match(pe, /groupId:\s*'blob'[\s\S]*zone:\s*'privatelink\.blob\.\$\{environment\(\)\.suffixes\.storage\}'/);
  assert.match(mainModule('app/private-endpoints.bicep').body, /keyVaultId:\s*keyVault\.outputs\.id/);
  assert.match(mainModule('app/private-endpoints.bicep').body, /storageAccountId:\s*storage\.outputs\.id/);
  assert.equal(declared('Microsoft.Network/privateDnsZones').length, 1);
  assert.match(declared('Microsoft.Network/privateDnsZones')[0]!.body, /location:\s*'global'/);
  const link = declared('Microsoft.Network/privateDnsZones/virtualNetworkLinks')[0]!;
  assert.match(link.body, /registrationEnabled:\s*false[\s\S]*virtualNetwork:\s*\{\s*id:\s*vnetId\s*\}/);
  const endpoint = declared('Microsoft.Network/privateEndpoints')[0]!;
  assert.match(endpoint.body, /subnet:\s*\{\s*id:\s*subnetId\s*\}/);
  assert.match(endpoint.body, /privateLinkServiceId:\s*endpoint\.resourceId\s*groupIds:\s*\[endpoint\.groupId\]/);
  const group = declared('Microsoft.Network/privateEndpoints/privateDnsZoneGroups')[0]!;
  assert.match(group.body, /privateDnsZoneConfigs:[\s\S]*privateDnsZoneId:\s*zones\[i\]\.id/);

  const account = declared('Microsoft.Storage/storageAccounts')[0]!;
  assert.match(account.body, /publicNetworkAccess:\s*publicNetworkAccess\b/);
  assert.match(account.body, /defaultAction:\s*'Deny'\s*bypass:\s*'None'/, 'private storage takes no public traffic');
  const vault = declared('Microsoft.KeyVault/vaults')[0]!;
  assert.match(vault.body, /defaultAction:\s*publicNetworkAccess == 'Enabled' \? 'Allow' : 'Deny'/);
});

test('diagnostics: Key Vault AuditEvent and the system topic DeliveryFailures go to the Log Analytics workspace', () => {
  const settings = declared('Microsoft.Insights/diagnosticSettings');
  const on = (file: string, category: string) => {
    const found = settings.find((b) => b.file.path === join(...file.split('/')) && b.body.includes(`'${category}'`));
    assert.ok(found, `${file}: a diagnostic setting with ${category}`);
    assert.match(found.body, new RegExp(`category:\\s*'${category}'\\s*enabled:\\s*true`));
    assert.match(found.body, /workspaceId:\s*logAnalyticsWorkspaceId\b/);
    return found;
  };
  const audit = on('infra/core/security/keyvault.bicep', 'AuditEvent');
  assert.match(audit.body, /scope:\s*vault\b/);
  const delivery = on('infra/app/key-vault-events.bicep', 'DeliveryFailures');
  assert.match(delivery.body, /scope:\s*topic\b/);
  for (const path of ['core/security/keyvault.bicep', 'app/key-vault-events.bicep']) {
    assert.match(mainModule(path).body, /logAnalyticsWorkspaceId:\s*monitoring\.outputs\.logAnalyticsWorkspaceId\b/);
  }
  assert.match(
    bicep('infra/core/monitor/monitoring.bicep').code,
    /output logAnalyticsWorkspaceId string = logAnalytics\.id/,
  );
});

test('scale parameters reach functionAppConfig.scaleAndConcurrency', () => {
  assert.equal(mainParamDefault('instanceMemoryMB'), '2048');
  assert.equal(mainParamDefault('maximumInstanceCount'), '100');
  assert.equal(mainParamDefault('alwaysReady'), '[]', 'scale to zero by default');
  assert.match(mainBicep.code, /@allowed\(\[512, 2048, 4096\]\)\s*param instanceMemoryMB int/);
  const api = mainModule('app/api.bicep');
  for (const name of ['instanceMemoryMB', 'maximumInstanceCount', 'alwaysReady']) {
    assert.match(api.body, new RegExp(`^\\s*${name}:\\s*${name}\\s*$`, 'm'), `main.bicep passes ${name}`);
  }
  assert.match(
    declared('Microsoft.Web/sites')[0]!.body,
    /scaleAndConcurrency:\s*\{\s*instanceMemoryMB:\s*instanceMemoryMB\s*maximumInstanceCount:\s*maximumInstanceCount\s*alwaysReady:\s*alwaysReady\s*\}/,
  );
});

test('purge protection and recovery are parameters, so azd down then azd up works', () => {
  assert.equal(mainParamDefault('keyVaultPurgeProtection'), 'false', 'off for the dev loop (docs: on for production)');
  assert.equal(parametersFile().keyVaultPurgeProtection?.value, '${KEY_VAULT_PURGE_PROTECTION=false}');
  assert.equal(mainParamDefault('keyVaultCreateMode'), "'default'");
  assert.equal(parametersFile().keyVaultCreateMode?.value, '${KEY_VAULT_CREATE_MODE=default}');
  const vault = mainModule('core/security/keyvault.bicep');
  assert.match(vault.body, /enablePurgeProtection:\s*keyVaultPurgeProtection\b/);
  assert.match(vault.body, /createMode:\s*keyVaultCreateMode\b/);
  assert.ok(hasLine(declared('Microsoft.KeyVault/vaults')[0]!.body, 'createMode: createMode'));
});

test('dead-lettering: optional, never in the private deployment, and its destination reaches the hook', () => {
  assert.equal(mainParamDefault('keyVaultEventsDeadLetter'), 'false');
  assert.equal(parametersFile().keyVaultEventsDeadLetter?.value, '${KEY_VAULT_EVENTS_DEAD_LETTER=false}');
  assert.match(mainBicep.code, /^var deadLetterEnabled = keyVaultEventsDeadLetter && !vnetEnabled$/m);
  for (const output of ['KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID', 'KEY_VAULT_EVENTS_DEAD_LETTER_CONTAINER']) {
    assert.match(mainBicep.code, new RegExp(`^output ${output} string = deadLetterEnabled \\? `, 'm'));
  }
  assert.match(mainModule('app/rbac.bicep').body, /deadLetterPrincipalId:\s*keyVaultEvents\.outputs\.principalId/);
  assert.match(
    bicep('infra/app/key-vault-events.bicep').code,
    /output principalId string = deadLetterEnabled \? topic\.identity\.principalId : ''/,
  );
});

// ---------------------------------------------------------------------------------------------
// Rotation ledger: one container, a data role on that container only, the blob URL as an app setting
// ---------------------------------------------------------------------------------------------

const STORAGE_BLOB_DATA_CONTRIBUTOR = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';

test('rotation ledger: its container, the app identity’s Storage Blob Data Contributor on it only, the blob URL setting', () => {
  const rbac = bicep('infra/app/rbac.bicep');
  const contributor = declared('Microsoft.Authorization/roleAssignments').filter(
    (b) => b.body.includes('storageBlobDataContributorRoleId') || b.body.includes(STORAGE_BLOB_DATA_CONTRIBUTOR),
  );
  // Whoever it is for (the app, Event Grid's dead-lettering), this role is only ever granted on one container.
  for (const block of contributor) {
    assert.match(block.body, /^\s*scope:\s*storage::blobServices::\w+Container\s*$/m, `${block.symbol}: one container`);
  }
  const ledger = contributor.filter((b) => /principalId:\s*appPrincipalId\b/.test(b.body));
  assert.equal(ledger.length, 1, 'one Storage Blob Data Contributor grant for the app identity');
  const grant = ledger[0]!;
  const container = /scope:\s*storage::blobServices::(\w+)/.exec(grant.body)![1]!;
  assert.match(grant.body, new RegExp(`name:\\s*guid\\(storage::blobServices::${container}\\.id, appPrincipalId,`));
  assert.match(grant.body, /principalType:\s*'ServicePrincipal'/);
  assert.match(
    rbac.code,
    new RegExp(`resource ${grant.symbol} '[^']+' = \\{`),
    'granted unconditionally: the app always has a ledger container',
  );
  assert.match(
    rbac.code,
    new RegExp(`resource ${container} 'containers' existing = \\{\\s*name: rotationLedgerContainerName\\s*\\}`),
  );

  // main.bicep: the container exists in the app's storage account, rbac gets its name, the app gets the blob URL.
  assert.match(mainBicep.code, /^var rotationLedgerContainerName = '([a-z0-9-]{3,63})'$/m);
  const containerExpr =
    /containerNames:\s*([^\n]+(?:\n\s+[?:][^\n]+)*)/.exec(mainModule('core/storage/storage-account.bicep').body)?.[1] ??
    '';
  // Written inline or as a `var` (one line: the parser of the IaC scan takes no ternary broken before `?`).
  const containers = /^\w+$/.test(containerExpr.trim())
    ? (new RegExp(`^var ${containerExpr.trim()} = (.+)$`, 'm').exec(mainBicep.code)?.[1] ?? '')
    : containerExpr;
  assert.match(containers, /\brotationLedgerContainerName\b/, 'the storage module creates the ledger container');
  for (const branch of containers.split(/[?:]/).slice(1)) {
    assert.match(branch, /\brotationLedgerContainerName\b/, 'created whether or not dead-lettering is on');
  }
  assert.match(mainModule('app/rbac.bicep').body, /rotationLedgerContainerName:\s*rotationLedgerContainerName\b/);
  assert.equal(
    setting(APP_SETTINGS.ROTATION_LEDGER_URL).value,
    "'${storage.outputs.blobEndpoint}${rotationLedgerContainerName}/${functionAppName}.json'",
    'the URL names the container the role is on, one blob per app',
  );
});

test('private deployment: no platform Key Vault reference, and the config check reports on none by default', () => {
  // Flex Consumption cannot resolve Key Vault references to a vault whose network access is restricted, even with VNet
  // integration: with one set, every private `azd up` waited 300 s at the postdeploy check and failed.
  const reference = setting(DEMO_REFERENCE_SETTING);
  const declaration = /^var\s+(\w+)\s*=\s*vnetEnabled \? \{\} : \{/m.exec(reference.file.code);
  assert.ok(
    declaration,
    `${DEMO_REFERENCE_SETTING} is set only when vnetEnabled is false (var x = vnetEnabled ? {} : {...})`,
  );
  const open = reference.file.code.indexOf('{', declaration.index + declaration[0].length - 1);
  assert.ok(
    reference.file.code.slice(open, matchingClose(reference.file.code, open)).includes(DEMO_REFERENCE_SETTING),
    'the reference lives in the public branch',
  );
  assert.match(
    mainModule('app/api-settings.bicep').body,
    new RegExp(`referenceSettings:\\s*${declaration[1]}\\b`),
    'the conditional settings reach the site',
  );
  assert.match(bicep('infra/app/api-settings.bicep').code, /properties:\s*union\([^)]*\breferenceSettings\b/);
  const defaults = configCheckDefaults();
  assert.equal(defaults.private, '', 'the private deployment checks no reference by default');
  assert.ok(defaults.public.split(',').includes(DEMO_REFERENCE_SETTING));
});

test('host storage: identity-based, the blob service only, from the account\u2019s own endpoint (no __accountName)', () => {
  // __accountName makes the host derive queue and table endpoints (its diagnostic writer then gets 403s,
  // Azure/azure-functions-host#10995, #10163) and builds public-cloud host names.
  const hostSettings = appSettings.filter((s) => s.name.startsWith('AzureWebJobsStorage'));
  assert.deepEqual(hostSettings.map((s) => s.name).sort(), [
    'AzureWebJobsStorage__blobServiceUri',
    'AzureWebJobsStorage__clientId',
    'AzureWebJobsStorage__credential',
  ]);
  assert.equal(setting('AzureWebJobsStorage__blobServiceUri').value, 'storageBlobEndpoint');
  assert.match(
    mainModule('app/api-settings.bicep').body,
    /storageBlobEndpoint:\s*storage\.outputs\.blobEndpoint\b/,
    'the blob endpoint the account reports (right in every cloud)',
  );
  assert.match(
    bicep('infra/core/storage/storage-account.bicep').code,
    /^output blobEndpoint string = storage\.properties\.primaryEndpoints\.blob$/m,
  );
});
