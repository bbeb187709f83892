// Package examples holds runnable programs that show kekbit at work, one
// per folder; README.md says how to run each. This package itself has no
// code: its test builds the programs and runs them as separate processes.
//
//   - quickstart: write a channel and follow it, in one process
//   - echo: standard input of one process to standard output of another
//   - chat: two people, two channels, two terminals
//   - reqrep: request/reply between two processes, with latency figures
//   - journal: an order log that never fills, and a named consumer that
//     resumes after a restart
package examples
