// Package chaos is the soak engine behind `hotpool chaos`: it runs the local
// server (internal/localserver) with concurrent Go clients against a faulty
// simulated App Platform (429s, 5xx, slow calls, dropped connections, ERROR
// deployments), Redis restarts (a redis-server child killed with SIGKILL and
// started again on its append-only file) and reconcile passes killed
// mid-way. Once the faults stop it reconciles until the pools converge and
// checks that nothing leaked, nothing was handed out twice and every pool is
// back at its target.
//
// It owns the fault schedule, the workload and the final checks; every
// behaviour under test lives in the packages the local server wires. It is
// not a production path.
package chaos
