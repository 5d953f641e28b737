// The vim25 client against govmomi's simulator: typed faults, the session's end, sockets
// closed, an expired session renewed, a reset connection retried.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, test } from 'node:test';
import { VSphereClient } from './client.js';
import {
  InvalidArgumentFault, InvalidLoginFault, ManagedObjectNotFoundFault, NotAuthenticatedFault, VimFault,
} from './errors.js';
import { SoapTransport, type SoapExchange } from './soap.js';
import { credentials, settle, simulatorPort, SKIP, socketsTo, VSPHERE_URL } from './simulator-env.js';

const url = VSPHERE_URL ?? '';

function connectClient(trace?: (e: SoapExchange) => void, extra: { url?: string; log?: (level: string, message: string) => void } = {}): Promise<VSphereClient> {
  const { username, password } = credentials();
  return VSphereClient.connect({
    url: extra.url ?? url,
    username,
    password,
    insecure: true,
    timeoutMs: 10_000,
    ...(trace ? { trace } : {}),
    ...(extra.log ? { log: extra.log } : {}),
  });
}

describe('vSphere client against the simulator', { skip: SKIP }, () => {
  test('a wrong password is an InvalidLogin fault, and no socket is left behind', { skip: SKIP || (!credentials().fixed && 'the simulator accepts any user: scripts/agent-vsphere-test starts it with fixed credentials') }, async () => {
    const { username } = credentials();
    const before = socketsTo(simulatorPort());
    const err = await VSphereClient.connect({ url, username, password: 'not-the-password', insecure: true }).then(
      () => assert.fail('logged in with a wrong password'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof InvalidLoginFault, `got ${String(err)}`);
    assert.equal(err.type, 'InvalidLogin');
    assert.equal(err.httpStatus, 500);
    await settle();
    assert.equal(socketsTo(simulatorPort()), before);
  });

  test('the server certificate is checked, against the CA given, unless insecure', async () => {
    const { username, password } = credentials();
    await assert.rejects(VSphereClient.connect({ url, username, password }), (e: unknown) => {
      assert.ok(!(e instanceof VimFault));
      assert.match(String(e), /certificate/i);
      return true;
    });
    // The simulator's certificate is self-signed: given as the CA, it is trusted.
    const socket = tlsConnect({ host: '127.0.0.1', port: simulatorPort(), rejectUnauthorized: false });
    await once(socket, 'secureConnect');
    const der = socket.getPeerCertificate().raw;
    socket.destroy();
    const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    const c = await VSphereClient.connect({ url, username, password, ca: pem });
    assert.ok(c.loggedIn);
    await c.close();
  });

  test('a managed object that does not exist is a ManagedObjectNotFound fault naming it', async () => {
    const c = await connectClient();
    try {
      const missing = { type: 'VirtualMachine', value: 'vm-does-not-exist' };
      const err = await c.readProperties(missing, ['name']).then(() => assert.fail('read a missing VM'), (e: unknown) => e);
      assert.ok(err instanceof ManagedObjectNotFoundFault, `got ${String(err)}`);
      assert.deepEqual(err.obj, missing);
      // Calling a method on it is the same fault.
      await assert.rejects(c.destroyView({ type: 'ContainerView', value: 'session[nope]view-1' }), ManagedObjectNotFoundFault);
    } finally {
      await c.close();
    }
  });

  test('an argument the server refuses is an InvalidArgument fault naming it', async () => {
    const c = await connectClient();
    try {
      const counters = await c.perfCounters();
      const cpu = counters.get('cpu.usage.average');
      assert.ok(cpu);
      // Folders have no performance data.
      const err = await c.queryPerf([{ entity: c.serviceContent.rootFolder, metricId: [{ counterId: cpu.key, instance: '' }], maxSample: 1, intervalId: 20 }]).then(
        () => assert.fail('queried a folder'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof InvalidArgumentFault, `got ${String(err)}`);
      assert.equal(err.invalidProperty, 'Entity');
    } finally {
      await c.close();
    }
  });

  test('a call without a session is a NotAuthenticated fault', async () => {
    const c = await connectClient();
    const t = new SoapTransport({ url, insecure: true });
    try {
      const err = await t.call('CreateContainerView', c.serviceContent.viewManager, '<container type="Folder">group-d1</container><type>VirtualMachine</type><recursive>true</recursive>').then(
        () => assert.fail('called without a session'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof NotAuthenticatedFault, `got ${String(err)}`);
      assert.equal(err.type, 'NotAuthenticated');
    } finally {
      t.close();
      await c.close();
    }
  });

  test('close() logs out and leaves no socket open', async () => {
    const port = simulatorPort();
    const before = socketsTo(port);
    const methods: string[] = [];
    const c = await connectClient((e) => methods.push(e.method));
    const view = await c.createContainerView(c.serviceContent.rootFolder, ['VirtualMachine'], true);
    const cookie = c.sessionCookie;
    assert.ok(cookie);
    assert.ok(socketsTo(port) > before, 'the client holds a keep-alive socket');

    // The cookie is a working session from another transport while the client is open...
    const other = new SoapTransport({ url, insecure: true, cookie });
    try {
      await other.call('RetrievePropertiesEx', c.serviceContent.propertyCollector,
        `<specSet><propSet><type>ContainerView</type><pathSet>view</pathSet></propSet><objectSet><obj type="ContainerView">${view.value}</obj></objectSet></specSet><options/>`);
      await c.close();
      assert.equal(methods.at(-1), 'Logout');
      assert.equal(c.openSockets, 0);
      // ...and no longer once it is closed: the session was ended on the server.
      await assert.rejects(other.call('CreateContainerView', c.serviceContent.viewManager, '<container type="Folder">group-d1</container><type>VirtualMachine</type><recursive>true</recursive>'), NotAuthenticatedFault);
      await assert.rejects(c.perfCounters(), /closed/);
    } finally {
      other.close();
    }
    await settle();
    assert.equal(socketsTo(port), before, 'no socket to the server is left open');
    assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'TLSWrap').length, 0, 'no TLS socket handle is left');
  });

  test('an expired session is renewed once and the call made again', async () => {
    const methods: string[] = [];
    const a = await connectClient((e) => methods.push(e.method));
    const admin = await connectClient();
    try {
      const key = await a.currentSessionKey();
      assert.ok(key);
      await admin.terminateSessions([key]);
      const epoch = a.sessionEpoch;
      methods.length = 0;
      const view = await a.createContainerView(a.serviceContent.rootFolder, ['VirtualMachine'], true);
      assert.ok(view.value);
      assert.deepEqual(methods, ['CreateContainerView', 'Login', 'CreateContainerView']);
      assert.equal(a.sessionEpoch, epoch + 1);
      const newKey = await a.currentSessionKey();
      assert.ok(newKey && newKey !== key);
      // A session ended mid-read shows as properties missing for NotAuthenticated: renewed too.
      await admin.terminateSessions([newKey]);
      methods.length = 0;
      const counters = await a.perfCounters();
      assert.ok(counters.size > 0);
      assert.deepEqual(methods, ['RetrievePropertiesEx', 'Login', 'RetrievePropertiesEx']);
    } finally {
      await a.close();
      await admin.close();
    }
  });

  test('a connection reset is retried', async () => {
    // A TCP relay in front of the simulator resets the first connection it gets.
    const port = simulatorPort();
    let connections = 0;
    const relays = new Set<Socket>();
    const relay = createServer((inbound) => {
      relays.add(inbound);
      inbound.on('close', () => relays.delete(inbound));
      if (connections++ === 0) {
        inbound.resetAndDestroy();
        return;
      }
      const outbound = connect(port, '127.0.0.1');
      relays.add(outbound);
      outbound.on('close', () => relays.delete(outbound));
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address();
    assert.ok(address && typeof address === 'object');
    const retries: string[] = [];
    const c = await connectClient(undefined, {
      url: `https://127.0.0.1:${address.port}/sdk`,
      log: (level, message) => {
        if (message.includes('retrying')) retries.push(level);
      },
    });
    try {
      assert.ok(c.loggedIn);
      assert.deepEqual(retries, ['warn']);
      assert.ok(connections >= 2);
    } finally {
      await c.close();
      for (const s of relays) s.destroy();
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});
