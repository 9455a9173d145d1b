// The official Socket.IO client as a load generator for bench/side_by_side.py.
//
//   node load.js MODE URL OPTIONS_JSON
//
// MODE is one of
//   throughput  one WebSocket client sends `messages` texts of `payload_bytes`, at most `window` in flight;
//               how many came back, how fast;
//   burst       one long-polling client emits `messages` texts at once (the client batches its queue into
//               as few POSTs as it may); how many came back, how fast, in order or not;
//   fanout      `clients` WebSocket receivers connect (`batch` at a time), then a separate sender sends
//               `rounds` messages, one after the other; time until every receiver has each one.
// It writes JSON lines to stdout: {"progress": n, "total": t} as it goes, {"connected": n} once the
// fan-out receivers are all in (the caller measures the server's memory then, and answers with a line
// on stdin to go on), and last {"result": {...}}. Every wait is bounded by `timeout` seconds.
const { io } = require('socket.io-client');
const readline = require('node:readline');

const [mode, url, optionsJson] = process.argv.slice(2);
const options = { messages: 20000, payload_bytes: 20, window: 500, clients: 1000, batch: 50, rounds: 10,
                  timeout: 60, idle: 10, ...JSON.parse(optionsJson || '{}') };
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const key = (i) => `m${String(i).padStart(7, '0')}.`; // the same keys as chat_lib.lab.probe
const text = (i) => key(i) + 'x'.repeat(Math.max(0, options.payload_bytes - 9));
const say = (data) => process.stdout.write(JSON.stringify(data) + '\n');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
process.stdin.on('end', () => process.exit(0)).resume(); // a lifeline, as the servers have

function connect(transports) {
  return new Promise((resolve, reject) => {
    // forceNew: one connection each, where io() would otherwise share one per URL
    const socket = io(url, { transports, forceNew: true, reconnection: false, timeout: options.timeout * 1000 });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => { socket.close(); reject(error); });
  });
}

function waitFor(condition, limitMs) { // resolves true when condition() holds, false after limitMs
  return new Promise((resolve) => {
    const started = now();
    const check = () => {
      if (condition()) resolve(true);
      else if (now() - started > limitMs) resolve(false);
      else setTimeout(check, 1);
    };
    check();
  });
}

async function throughput() {
  const socket = await connect(['websocket']);
  let received = 0, sent = 0, last = 0;
  const total = options.messages;
  socket.emit('chat message', text(0)); // warm-up round trip
  await new Promise((resolve) => socket.once('chat message', resolve));
  const pump = () => {
    while (sent < total && sent - received < options.window) socket.emit('chat message', text(++sent));
  };
  socket.on('chat message', () => {
    received += 1; last = now();
    if (received % 2000 === 0) say({ progress: received, total });
    pump();
  });
  const start = now();
  pump();
  // bounded: gives up when nothing came back for `idle` seconds or after `timeout` in all
  let previous = -1;
  while (received < total && now() - start < options.timeout * 1000) {
    if (received === previous && now() - last > options.idle * 1000 && now() - start > options.idle * 1000) break;
    previous = received;
    await sleep(20);
  }
  const seconds = ((received ? last : now()) - start) / 1000;
  return { sent, received, all_received: received === total, seconds,
           messages_per_second: seconds > 0 ? received / seconds : 0 };
}

async function burst() {
  const socket = await connect(['polling']);
  const total = options.messages;
  const arrived = [];
  let last = 0;
  socket.on('chat message', (msg) => { arrived.push(msg); last = now(); });
  socket.emit('chat message', 'warm-up');
  await waitFor(() => arrived.length === 1, options.timeout * 1000);
  arrived.length = 0;
  const start = now();
  for (let i = 1; i <= total; i++) socket.emit('chat message', text(i));
  let previous = -1, changed = now();
  while (arrived.length < total && now() - start < options.timeout * 1000) {
    if (arrived.length !== previous) { previous = arrived.length; changed = now(); say({ progress: previous, total }); }
    if (now() - changed > options.idle * 1000) break; // nothing new for `idle` seconds: it stalled
    await sleep(50);
  }
  const inOrder = arrived.every((msg, index) => typeof msg === 'string' && msg.startsWith(key(index + 1)));
  const seconds = ((arrived.length ? last : now()) - start) / 1000;
  return { sent: total, received: arrived.length, all_received: arrived.length === total, in_order: inOrder,
           seconds, messages_per_second: seconds > 0 ? arrived.length / seconds : 0,
           still_connected: socket.connected };
}

async function fanout() {
  const total = options.clients;
  const receivers = [];
  let arrivals = new Map(); // key -> times (ms) of arrival at each receiver
  const started = now();
  const failures = [];
  for (let first = 0; first < total; first += options.batch) {
    if (now() - started > options.timeout * 1000) break;
    const batch = Math.min(options.batch, total - first);
    const results = await Promise.allSettled(Array.from({ length: batch }, () => connect(['websocket'])));
    for (const result of results) {
      if (result.status === 'rejected') { failures.push(String(result.reason)); continue; }
      const socket = result.value;
      socket.on('chat message', (msg) => {
        const times = arrivals.get(String(msg).slice(0, 9));
        if (times) times.push(now());
      });
      receivers.push(socket);
    }
    say({ progress: receivers.length, total });
  }
  const connectSeconds = (now() - started) / 1000;
  const result = { clients: total, connected: receivers.length, connect_seconds: connectSeconds,
                   connect_failures: failures.length, first_failure: failures[0] || null,
                   rounds: options.rounds, samples: [], received: 0, expected: 0, completed: false };
  if (receivers.length < total) return result;
  say({ connected: receivers.length });
  await new Promise((resolve) => readline.createInterface({ input: process.stdin }).once('line', resolve));
  const sender = await connect(['websocket']);
  const deadline = started + options.timeout * 1000;
  for (let round = 0; round <= options.rounds; round++) { // round 0 warms up
    const times = [];
    arrivals.set(key(round), times);
    const start = now();
    sender.emit('chat message', text(round));
    const complete = await waitFor(() => times.length >= total, Math.min(options.idle * 1000, deadline - now()));
    if (!complete) return { ...result, stopped_at_round: round };
    if (round > 0) {
      result.samples.push(Math.max(...times) - start);
      result.received += times.length;
      result.expected += total;
    }
    say({ progress: round, total: options.rounds });
  }
  return { ...result, completed: true };
}

const modes = { throughput, burst, fanout };
modes[mode]().then(
  (result) => { say({ result }); process.exit(0); },
  (error) => { say({ error: String(error && error.stack || error) }); process.exit(1); },
);
