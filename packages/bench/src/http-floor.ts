// The HTTP floor of an ingest cell: the rate at which a bare Node HTTP server, in a process
// of its own as Tally's API is, can take the cell's very requests: it reads each body to
// the end and answers 202, nothing else (no parsing, no validation, no fsync). Small
// requests (the single-POST shape: 1-10 measures) cost far more to carry over HTTP than to
// parse, so acknowledged / JSON.parse cannot approach 1 there whatever the server does;
// acknowledged / floor says how much of what HTTP itself allows Tally's path takes.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => { res.writeHead(202, { 'content-length': 0 }); res.end(); });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

export interface HttpFloor {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the bare server in a child process; its URL once it listens. */
export async function startHttpFloor(): Promise<HttpFloor> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => { throw new Error(`the HTTP floor server exited (${String(code)}) before listening`); }),
  ])) as [string];
  lines.close();
  const port = Number(first);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`the HTTP floor server printed ${JSON.stringify(first)}, not a port`);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
