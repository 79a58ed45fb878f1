// Package run is the engine behind scratchkit's Smoke target: it checks each platform of an image
// with package lint, then runs the image in a real container the way production would and probes
// it. Package lint owns the checks and their findings; package imagefs reads an image's
// filesystem for both (and unpacks a runc bundle).
//
// Smoke runs lint on every platform of an image or index, then runs the host's platform (and any
// platform a qemu binfmt_misc handler can run) through docker or runc: as the image's configured
// user, with a read-only root filesystem (writable only where Options.Tmpfs and the image's own
// volumes get a bounded tmpfs, tmpfs.go), memory and pids limits, no capabilities for a non-root
// user, no new privileges, docker's seccomp profile (under runc, one after it, see seccomp.go), a
// bounded log, no network, and a deadline. Other platforms are checked statically only, and their
// PlatformReport says so (Ran false, Reason). An image whose user check fails (root without
// AllowRoot, or a user it cannot resolve) is not run at all. Probes say what to run, each in a
// container of its own: an exit probe runs the image with arguments and expects exit code 0 (and
// optionally output matching a regular expression); an http probe starts the service, GETs a path
// until the answer is the expected one (a 2xx or a given status, a body matching a pattern, sent
// with a given Host header), then stops it with SIGTERM and expects it to exit. Without probes the
// image is started with its own arguments and must not fail in its first seconds. A failed probe
// carries the container's output (its last MiB), its exit code and, when the output shows a known
// pitfall, a Diagnosis with the fix.
//
// Networking: containers get their own network namespace with only a loopback interface (docker
// --network none; runc's new network namespace), so a service cannot reach anything and its ports
// cannot clash with the host's. Under docker, the http probe runs in a second container that joins
// that namespace (--network container:<id>): the prober, a tiny static program scratchkit builds
// from its own source with the go on PATH and caches (prober.go); no root is needed. Under runc,
// which needs root anyway, this process opens the probe's socket inside the namespace (setns(2) on
// one locked thread). Only with Options.Network host does the http probe's container share the
// host's network, probed on 127.0.0.1:<port> there, and the report says so.
//
// Every container, image tag, runc container and bundle is named or labelled with its owning
// process (owner.go); at its start Smoke removes those whose owner died without cleaning up
// (sweep.go).
package run
