// interop.test.js - loginrisk-agent called from Node with @grpc/grpc-js, a
// second gRPC implementation independent of the C core the agent is built
// on, over TLS with a bearer token for the admin calls.
//
// The test starts the real agent (LR_AGENT) with a config written here: one
// TLS listener (certificate made by openssl at test time for the name
// agent.test), the fixture geo databases (LR_DATA_DIR), a responder token
// whose Argon2id hash `riskctl token-hash` (LR_RISKCTL) makes. Stubs are
// loaded at run time from proto/ (LR_PROTO_DIR) with @grpc/proto-loader.
// It calls Evaluate, ReportOutcome for that decision, the standard health
// check, and AdminService (LockAccounts, GetAccount, ListLocks) with the
// token as call credentials; without the token the admin call is refused.
// Run by CTest through run.sh (integration/CMakeLists.txt).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const NAME = 'agent.test';
const SANITIZE = /^(on|1|true|yes)$/i.test(process.env.LR_SANITIZE || '');
const SLOW = SANITIZE ? 4 : 1;
const TOKEN = 'node-responder-' + require('node:crypto').randomBytes(12)
  .toString('hex');

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through ctest`);
  return path.resolve(v);
}

function deadline(secs) {
  return new Date(Date.now() + secs * 1000 * SLOW);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function openssl(dir, ...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 60000 });
}

function makeCert(dir) {
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key',
    '-out', 'server.crt', '-days', '2', '-subj', `/CN=${NAME}`,
    '-addext', `subjectAltName=DNS:${NAME}`);
}

function tokenHash(token) {
  const out = execFileSync(env('LR_RISKCTL'), ['token-hash'], {
    input: token + '\n', timeout: 60000 * SLOW,
  }).toString().trim().split('\n')[0];
  assert.match(out, /^\$argon2id\$v=19\$/);
  return out;
}

function loadStubs() {
  const def = protoLoader.loadSync(
    ['loginrisk/v1/risk.proto', 'grpc/health/v1/health.proto'], {
      includeDirs: [env('LR_PROTO_DIR')],
      keepCase: true, longs: String, enums: String, defaults: true,
    });
  return grpc.loadPackageDefinition(def);
}

// promisified unary call with a deadline
function call(client, method, req, opts = {}) {
  return new Promise((resolve, reject) => {
    client[method](req, opts.metadata || new grpc.Metadata(),
      { deadline: deadline(opts.secs || 10) },
      (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

let dir, agent, output = '', stubs, target, tls, risk, health, adminOk,
  adminNoToken;

async function waitServing() {
  const end = Date.now() + 30000 * SLOW;
  let last;
  while (Date.now() < end) {
    if (agent.exitCode !== null) {
      throw new Error(`agent exited (${agent.exitCode}):\n${output}`);
    }
    try {
      const r = await call(health, 'Check', { service: '' }, { secs: 2 });
      if (r.status === 'SERVING') return;
      last = r.status;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`agent not SERVING (last: ${last}):\n${output}`);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lr-node-'));
  makeCert(dir);
  const port = await freePort();
  target = `127.0.0.1:${port}`;
  const data = env('LR_DATA_DIR');
  const config = [
    'agent:', '  workers: 2', '  drain_timeout_ms: 5000',
    'listeners:',
    `  - address: ${JSON.stringify(target)}`,
    '    tls:',
    `      cert: ${JSON.stringify(path.join(dir, 'server.crt'))}`,
    `      key: ${JSON.stringify(path.join(dir, 'server.key'))}`,
    'geo:',
    `  city: ${JSON.stringify(path.join(data, 'loginrisk-city.mmdb'))}`,
    `  asn: ${JSON.stringify(path.join(data, 'loginrisk-asn.mmdb'))}`,
    `  anonymous: ${JSON.stringify(path.join(data, 'loginrisk-anonymous.mmdb'))}`,
    'state:', `  dir: ${JSON.stringify(path.join(dir, 'state'))}`,
    'policy:', '  version: "node-1"',
    'admin:', '  tokens:', '    - name: node-oncall', '      role: responder',
    `      hash: ${JSON.stringify(tokenHash(TOKEN))}`,
  ].join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'loginrisk.yaml'), config);
  agent = spawn(env('LR_AGENT'), ['--config', path.join(dir, 'loginrisk.yaml')],
    {
      cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ASAN_OPTIONS: 'detect_leaks=1:halt_on_error=1:exitcode=66:' +
          'detect_stack_use_after_return=0',
        UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
      },
    });
  agent.stdout.on('data', (b) => { output += b; });
  agent.stderr.on('data', (b) => { output += b; });

  stubs = loadStubs();
  tls = grpc.credentials.createSsl(fs.readFileSync(path.join(dir, 'server.crt')));
  const options = { 'grpc.ssl_target_name_override': NAME,
    'grpc.default_authority': NAME };
  risk = new stubs.loginrisk.v1.RiskService(target, tls, options);
  health = new stubs.grpc.health.v1.Health(target, tls, options);
  const bearer = grpc.credentials.createFromMetadataGenerator((_p, cb) => {
    const md = new grpc.Metadata();
    md.add('authorization', `Bearer ${TOKEN}`);
    cb(null, md);
  });
  adminOk = new stubs.loginrisk.v1.AdminService(target,
    grpc.credentials.combineChannelCredentials(tls, bearer), options);
  adminNoToken = new stubs.loginrisk.v1.AdminService(target, tls, options);
  await waitServing();
});

after(async () => {
  for (const c of [risk, health, adminOk, adminNoToken]) if (c) c.close();
  if (agent && agent.exitCode === null) {
    const done = new Promise((r) => agent.on('exit', r));
    agent.kill('SIGTERM');
    await done;
  }
  const sanitizer = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/;
  const code = agent ? agent.exitCode : null;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, `agent exit code ${code}:\n${output.slice(-6000)}`);
  assert.doesNotMatch(output, sanitizer, output.slice(-6000));
});

test('health over TLS answers SERVING for RiskService', async () => {
  const r = await call(health, 'Check', { service: 'loginrisk.v1.RiskService' });
  assert.equal(r.status, 'SERVING');
});

test('Evaluate then ReportOutcome for the same decision', async () => {
  const d = await call(risk, 'Evaluate', {
    request_id: 'node-1', account_id: 'node-alice', ip: '192.0.2.10',
    device_id: 'node-dev', user_agent: 'grpc-js',
    timestamp_ms: String(Date.now()), credential: 'CREDENTIAL_VALID',
  });
  assert.equal(d.request_id, 'node-1');
  assert.equal(d.action, 'ACTION_ALLOW');
  assert.equal(d.policy_version, 'node-1');
  assert.equal(d.geo.city, 'London');
  assert.equal(d.geo.country, 'GB');
  assert.equal(Number(d.geo.asn), 64500);
  const tor = await call(risk, 'Evaluate', {
    account_id: 'node-bob', ip: '198.18.3.7', timestamp_ms: String(Date.now()),
  });
  assert.ok(tor.reasons.some((r) => r.code === 'TOR_EXIT'), tor.reasons);
  assert.match(tor.request_id, /^[0-9a-f]{32}$/);
  const ack = await call(risk, 'ReportOutcome', {
    request_id: 'node-1', account_id: 'node-alice',
    kind: 'OUTCOME_CHALLENGE_PASSED', timestamp_ms: String(Date.now()),
  });
  assert.equal(ack.request_id, 'node-1');
  assert.equal(ack.applied, true);
  await assert.rejects(call(risk, 'ReportOutcome', {
    request_id: 'no-such-id', account_id: 'x',
    kind: 'OUTCOME_CHALLENGE_PASSED', timestamp_ms: String(Date.now()),
  }), (e) => e.code === grpc.status.NOT_FOUND);
});

test('invalid attempt is INVALID_ARGUMENT naming the field', async () => {
  await assert.rejects(call(risk, 'Evaluate', {
    account_id: 'node-carol', ip: 'not-an-ip',
  }), (e) => e.code === grpc.status.INVALID_ARGUMENT && /ip/.test(e.details));
});

test('admin calls with a bearer token: lock, GetAccount, ListLocks', async () => {
  const res = await call(adminOk, 'LockAccounts', {
    account_ids: ['node-mallory', 'node-trudy'], reason: 'node interop',
    ticket: 'NODE-1',
  });
  assert.equal(Number(res.matched), 2);
  assert.equal(Number(res.changed), 2);
  const acct = await call(adminOk, 'GetAccount', { account_id: 'node-mallory' });
  assert.equal(acct.account_id, 'node-mallory');
  assert.equal(acct.lock.locked, true);
  assert.equal(acct.lock.ticket, 'NODE-1');
  assert.equal(acct.lock.source, 'node-oncall');
  const locks = await call(adminOk, 'ListLocks', { page_size: 10 });
  const ids = locks.locks.map((l) => l.account_id).sort();
  assert.deepEqual(ids, ['node-mallory', 'node-trudy']);
  const d = await call(risk, 'Evaluate', {
    account_id: 'node-mallory', ip: '192.0.2.11',
    timestamp_ms: String(Date.now()),
  });
  assert.equal(d.action, 'ACTION_LOCK');
});

test('admin call without a token is UNAUTHENTICATED', async () => {
  await assert.rejects(call(adminNoToken, 'ListLocks', { page_size: 1 }),
    (e) => e.code === grpc.status.UNAUTHENTICATED);
});
