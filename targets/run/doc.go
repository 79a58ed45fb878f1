// Package run is the engine behind scratchkit's Smoke target: it checks an image's filesystem for
// the pitfalls of scratch and distroless images, then runs the image in a real container the way
// production would and probes it.
//
// Check reads one platform's image (all layers, whiteouts honoured) and reports a Finding per
// check: the entrypoint exists, is a regular file the configured user may execute, is statically
// linked (binary.Check, Verify's engine) and is byte for byte the verified binary; the user is not
// root unless allowed and resolves in the image's /etc/passwd; a binary that links crypto/tls or
// crypto/x509 finds CA roots, one that calls time.LoadLocation finds zone data, one that links
// os/user finds /etc/passwd (what the binary links is read from its function table, see
// binary.Features); the base is pinned by digest; no shell or package manager rides along unless a
// debug variant was asked for; a non-root service does not need a port below 1024.
//
// Smoke runs Check on every platform of an image or index, then runs the host's platform (and any
// platform a qemu binfmt_misc handler can run) through docker or runc: as the image's configured
// user, with a read-only root filesystem, a memory limit, no capabilities for a non-root user, no
// new privileges, no network, and a deadline. Probes say what to run: an exit probe runs the image
// with arguments and expects exit code 0 (and optionally output matching a regular expression); an
// http probe starts the service, GETs a path until it answers 2xx, then stops it with SIGTERM and
// expects it to exit. Without probes the image is started with its own arguments and must not fail
// in its first seconds. A failed probe carries the container's output, its exit code and, when the
// output shows a known pitfall, a Diagnosis with the fix.
//
// Networking: containers get their own network namespace with only a loopback interface (docker
// --network none; runc's new network namespace), so a service cannot reach anything and its ports
// cannot clash with the host's. The http probe connects to the service through that loopback by
// opening its socket inside the container's network namespace (setns(2) on one locked thread), which
// needs root. Without root, or with Options.HostNetwork, http probes use the host's network
// (docker --network host) and probe 127.0.0.1:<port>, where the port must be free.
package run
