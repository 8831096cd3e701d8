// A small Node backend for the httpPlatform tests: it listens on
// 127.0.0.1 at HTTP_PLATFORM_PORT (or ASPNETCORE_PORT) and answers every
// request with JSON: the port variable, the pid, the method, the URL and
// the request's headers.
'use strict';
const http = require('http');

const port = Number(process.env.HTTP_PLATFORM_PORT || process.env.ASPNETCORE_PORT);
http.createServer((req, res) => {
  let n = 0;
  req.on('data', (b) => { n += b.length; });
  req.on('end', () => {
    const body = JSON.stringify({
      node: process.version, pid: process.pid, port: port, method: req.method,
      url: req.url, headers: req.headers, received: n,
    });
    res.writeHead(200, { 'Content-Type': 'application/json',
                         'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(port, '127.0.0.1', () => {
  console.log('node backend ' + process.pid + ' listening on ' + port);
});
