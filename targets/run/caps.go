package run

import (
	"fmt"
	"slices"
	"strings"
)

// Linux capabilities a smoke container may be given back (smoke.cap_add), by their kernel names.
var capabilityNames = []string{
	"CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_AUDIT_WRITE", "CAP_BLOCK_SUSPEND", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE", "CAP_LINUX_IMMUTABLE",
	"CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_MKNOD", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_RAW", "CAP_PERFMON", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYSLOG", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_MODULE",
	"CAP_SYS_NICE", "CAP_SYS_PACCT", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_WAKE_ALARM",
}

// Capabilities normalises capability names as docker --cap-add and Kubernetes'
// securityContext.capabilities.add write them (NET_BIND_SERVICE, cap_net_bind_service,
// CAP_NET_BIND_SERVICE) to the kernel's (CAP_NET_BIND_SERVICE), sorted and without repeats. An
// unknown name, or ALL, is an error: capabilities are added back one by one, by name.
func Capabilities(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		c := strings.ToUpper(strings.TrimSpace(n))
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(capabilityNames, c) {
			return nil, fmt.Errorf("%q is not a Linux capability: name each one to add back, e.g. NET_BIND_SERVICE", n)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

// shortCap is a capability as docker's --cap-add writes it: NET_BIND_SERVICE.
func shortCap(c string) string { return strings.TrimPrefix(c, "CAP_") }
