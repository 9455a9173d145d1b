// The Socket.IO tutorial's final client (https://socket.io/docs/v4/tutorial/),
// run in Node with the official socket.io-client instead of a page, so that
// tests/test_tutorial_client.py can drive it and read what it saw.
//
//   node tutorial_client.js URL [--server-offset N] [--counter-start N] [--max-seconds S]
//
// The tutorial's lines are kept as they are (see "The tutorial's lines" below);
// the form's submit handler becomes send(text). The test writes commands as JSON
// lines on stdin:
//   {"cmd": "send", "text": "..."}                          type one message
//   {"cmd": "type", "count": 80, "every": 100, "prefix": "a"} type a-0 .. a-79, one every 100 ms
//   {"cmd": "exit"}                                         disconnect and exit
// and reads one JSON object per line on stdout, each with an "event":
//   connect {id, serverOffset}   disconnect {reason}   connect_error {message}
//   sent {text, clientOffset, connected}
//   ack {text, clientOffset, err, args}   (err: the retries gave up; args: the server's ack arguments)
//   message {text, offset, extra}         (one 'chat message' broadcast)
//   chat error {payload}                  typed {count}   exit {}
// It exits when stdin closes (the test died) or after --max-seconds, whatever happens.
'use strict';

const { io } = require('socket.io-client');
const readline = require('node:readline');

const argv = process.argv.slice(2);
const url = argv[0];
function option(name, fallback) {
  const at = argv.indexOf(name);
  return at === -1 ? fallback : Number(argv[at + 1]);
}
if (!url) {
  process.stderr.write('usage: node tutorial_client.js URL [--server-offset N] [--counter-start N] [--max-seconds S]\n');
  process.exit(2);
}

function report(event, fields = {}) {
  // Pipes are synchronous on Linux: a line is out before the next statement.
  process.stdout.write(JSON.stringify({ event, t: Date.now(), ...fields }) + '\n');
}

// ---- The tutorial's lines ------------------------------------------------------
// The tutorial's counter starts at 0. While the socket is offline, socket.id is
// undefined and its clientOffsets read "undefined-N": two clients typing offline
// with the same counter would send the same clientOffset, and a server that
// stores once per clientOffset keeps only the first. --counter-start lets a test
// give each client its own range, so that the drill tests the server.
let counter = option('--counter-start', 0);

const socket = io(url, {
  auth: {
    serverOffset: option('--server-offset', 0),
  },
  // enable retries
  ackTimeout: 10000,
  retries: 3,
});

function send(text) {
  // compute a unique offset
  const clientOffset = `${socket.id}-${counter++}`;
  report('sent', { text, clientOffset, connected: socket.connected });
  socket.emit('chat message', text, clientOffset, (err, ...args) => {
    // err: only ever the retries giving up; args: what the server acknowledged with
    report('ack', { text, clientOffset, err: err ? String(err.message || err) : null, args });
  });
}

socket.on('chat message', (msg, serverOffset, ...extra) => {
  report('message', { text: msg, offset: serverOffset, extra });
  socket.auth.serverOffset = serverOffset;
});
// ---- end of the tutorial's lines -----------------------------------------------

socket.on('connect', () => report('connect', { id: socket.id, serverOffset: socket.auth.serverOffset }));
socket.on('disconnect', (reason) => report('disconnect', { reason }));
socket.on('connect_error', (err) => report('connect_error', { message: String(err.message || err) }));
socket.on('chat error', (payload) => report('chat error', { payload }));

let exiting = false;
function exit(code = 0) {
  if (exiting) return;
  exiting = true;
  socket.disconnect();
  report('exit');
  process.exit(code);
}

function type(count, every, prefix) {
  let typed = 0;
  const timer = setInterval(() => {
    send(`${prefix}-${typed}`);
    typed += 1;
    if (typed >= count) {
      clearInterval(timer);
      report('typed', { count: typed });
    }
  }, every);
}

const commands = readline.createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (err) {
    process.stderr.write(`not a JSON command: ${line}\n`);
    return;
  }
  if (command.cmd === 'send') send(command.text);
  else if (command.cmd === 'type') type(command.count, command.every, command.prefix);
  else if (command.cmd === 'exit') exit(0);
  else process.stderr.write(`unknown command: ${line}\n`);
});
commands.on('close', () => exit(0)); // the test is gone: do not outlive it

setTimeout(() => {
  process.stderr.write('tutorial_client.js: --max-seconds reached\n');
  exit(3);
}, option('--max-seconds', 60) * 1000).unref();
