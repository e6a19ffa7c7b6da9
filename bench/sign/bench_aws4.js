// SPDX-License-Identifier: Apache-2.0
// bench_aws4.js: signatures per second of the npm aws4 signer (Debian's node-aws4) for the
// request bench_sign signs, for comparison (compare_aws4.py runs both).
//
// Usage: /usr/bin/node bench/sign/bench_aws4.js [--seconds S] [--rounds N]
// Each round signs for S seconds of wall time; prints the best and the median round, the
// process's CPU rate (node's own threads included) and the Authorization header of the request.
'use strict'

const aws4 = require('/usr/share/nodejs/aws4')

function option (name, fallback) {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const seconds = option('--seconds', 1)
const rounds = option('--rounds', 5)

// The request of bench_sign: GET of one object at 2023-11-14T22:13:20Z (epoch 1700000000),
// region RegionOne, empty body, the AWS documentation's example key (not a real one).
const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
}
function sign () {
  // A new request object each time, as a caller builds one per request (aws4 fills it in).
  return aws4.sign({
    host: 's3.regionone.example.net:8080',
    method: 'GET',
    path: '/examplebucket/photos/2024/puppy.jpg',
    service: 's3',
    region: 'RegionOne',
    headers: { 'X-Amz-Date': '20231114T221320Z' }
  }, credentials)
}

function round () {
  const start = process.hrtime.bigint()
  const cpuStart = process.cpuUsage()
  const limit = start + BigInt(Math.round(seconds * 1e9))
  let calls = 0
  let now = start
  do {
    for (let i = 0; i < 1000; ++i) sign()
    calls += 1000
    now = process.hrtime.bigint()
  } while (now < limit)
  const cpu = process.cpuUsage(cpuStart)
  return {
    wall: calls / (Number(now - start) * 1e-9),
    cpu: calls / ((cpu.user + cpu.system) * 1e-6)
  }
}

sign() // warm up
const results = []
for (let i = 0; i < rounds; ++i) results.push(round())
const wall = results.map(r => r.wall).sort((a, b) => a - b)
const cpu = results.map(r => r.cpu).sort((a, b) => a - b)
console.log(`aws4 ${require('/usr/share/nodejs/aws4/package.json').version} under node ` +
            `${process.version}: ${rounds} rounds of ${seconds} s`)
console.log(`SigV4 header (aws4) ${wall[wall.length - 1].toFixed(0)} /s best ` +
            `${wall[Math.floor(wall.length / 2)].toFixed(0)} /s median (wall)   ` +
            `(process CPU: ${cpu[cpu.length - 1].toFixed(0)} /s best)`)
console.log(`SigV4 Authorization: ${sign().headers.Authorization}`)
