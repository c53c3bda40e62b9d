#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// node_echo.js PATH: the Node.js peer for the echo benchmarks.
// socket.pipe(socket) is Node's own backpressured echo: it pauses reads while writes queue.
'use strict';
const fs = require('fs');
const net = require('net');

const path = process.argv[2];
if (!path || process.argv.length !== 3) {
	console.error('usage: node_echo.js PATH');
	process.exit(2);
}
try {
	fs.unlinkSync(path);
} catch (e) {
	if (e.code !== 'ENOENT') throw e;
}

const server = net.createServer((sock) => {
	// A reset peer must cost one connection, not the process.
	sock.on('error', () => sock.destroy());
	sock.pipe(sock);
});
server.listen(path);

for (const sig of ['SIGTERM', 'SIGINT']) {
	process.on(sig, () => {
		// close() only stops new connections; exit now as the other peers do.
		server.close();
		process.exit(0);
	});
}
