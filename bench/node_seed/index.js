// The Socket.IO tutorial's chat server (https://socket.io/docs/v4/tutorial/), as notebook 02 ports it.
const express = require('express');
const { createServer } = require('node:http');
const { Server } = require('socket.io');
const app = express();
const server = createServer(app);
const io = new Server(server);
app.get('/', (req, res) => res.send('<h1>Chat</h1>'));
io.on('connection', (socket) => socket.on('chat message', (msg) => io.emit('chat message', msg)));

// Benchmark additions: listen on the port given (0: a free one) and say which, and exit when our parent does.
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
process.stdin.on('end', () => process.exit(0)).resume();
