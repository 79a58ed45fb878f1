package run

import (
	goruntime "runtime"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// The seccomp filter of runc containers. Docker puts every container under its default profile;
// runc applies none unless config.json has one, so without this a smoke test under runc would let
// through system calls that docker (and so production) refuses. The set below follows what
// docker's default profile allows a container without extra capabilities on a current kernel:
// everything an ordinary program needs, and none of what reaches past the container — kernel
// keyrings, modules, mounts, namespaces, clocks, swap, reboot, BPF, perf, io_uring, userfaultfd.
// Anything else fails with EPERM, as under docker.

const (
	errnoEPERM  uint = 1
	errnoENOSYS uint = 38
)

// allowedSyscalls are allowed whatever their arguments (clone and personality are allowed
// with some arguments only, see seccompProfile). Names a kernel or libseccomp does not know
// (another architecture's, or newer than it) are skipped by runc, so one list serves every
// architecture, 32-bit compat names included.
var allowedSyscalls = []string{
	// files and directories
	"open", "openat", "openat2", "creat", "close", "close_range", "read", "readv", "pread64", "preadv", "preadv2",
	"write", "writev", "pwrite64", "pwritev", "pwritev2", "lseek", "_llseek", "dup", "dup2", "dup3",
	"fcntl", "fcntl64", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "sync_file_range2", "arm_sync_file_range",
	"truncate", "truncate64", "ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "arm_fadvise64_64", "readahead",
	"stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "newfstatat", "fstatat64", "statx", "statfs", "statfs64", "fstatfs", "fstatfs64",
	"access", "faccessat", "faccessat2", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
	"rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat", "unlink", "unlinkat",
	"symlink", "symlinkat", "readlink", "readlinkat", "mknod", "mknodat", "umask",
	"chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
	"utime", "utimes", "futimesat", "utimensat", "utimensat_time64",
	"setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
	"removexattr", "lremovexattr", "fremovexattr", "setxattrat", "getxattrat", "listxattrat", "removexattrat",
	"sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range", "cachestat",
	"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
	"ioctl", "memfd_create", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",

	// memory
	"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "remap_file_pages",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "membarrier", "mseal", "map_shadow_stack",
	"pkey_alloc", "pkey_free", "pkey_mprotect",

	// processes, threads, scheduling
	"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
	"getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
	"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "restart_syscall",
	"futex", "futex_time64", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
	"sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_getattr", "sched_setattr", "getpriority", "setpriority", "ioprio_get", "ioprio_set", "getcpu",
	"prctl", "arch_prctl", "modify_ldt", "set_thread_area", "get_thread_area", "set_tls", "cacheflush", "breakpoint", "riscv_flush_icache",
	"getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times", "sysinfo", "uname", "olduname", "capget", "capset",
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_send_signal", "process_mrelease", "seccomp",

	// users and groups (capabilities still decide what may change)
	"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
	"getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
	"setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
	"setresuid", "setresuid32", "setresgid", "setresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
	"setgroups", "setgroups32",

	// signals
	"kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack",
	"sigaction", "signal", "sigprocmask", "sigreturn", "sigpending", "sigsuspend", "signalfd", "signalfd4", "pause", "alarm",

	// time (reading it; setting clocks needs the profile's refusal plus CAP_SYS_TIME)
	"clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64", "clock_nanosleep", "clock_nanosleep_time64",
	"gettimeofday", "time", "nanosleep", "adjtimex", "getitimer", "setitimer",
	"timer_create", "timer_settime", "timer_settime64", "timer_gettime", "timer_gettime64", "timer_getoverrun", "timer_delete",
	"timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime", "timerfd_gettime64",

	// waiting on descriptors
	"select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "pipe", "pipe2",
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64",

	// sockets
	"socket", "socketpair", "socketcall", "bind", "listen", "accept", "accept4", "connect", "shutdown",
	"getsockname", "getpeername", "getsockopt", "setsockopt", "send", "sendto", "sendmsg", "sendmmsg",
	"recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",

	// System V and POSIX IPC (namespaced per container)
	"ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl",
	"shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64",
	"mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",

	"getrandom",
}

// seccompProfile is the filter for a container holding caps.
func seccompProfile(caps []string) *specs.LinuxSeccomp {
	eperm, enosys := errnoEPERM, errnoENOSYS
	allow := slices.Clone(allowedSyscalls)
	if slices.Contains(caps, "CAP_SYS_CHROOT") {
		allow = append(allow, "chroot") // as docker, for a root image that keeps the capability
	}
	cloneFlags := uint(0)
	if goruntime.GOARCH == "s390x" {
		cloneFlags = 1 // s390x swaps clone's first two arguments
	}
	rules := []specs.LinuxSyscall{{Names: allow, Action: specs.ActAllow}}
	// personality(2) only to query, or to pick the Linux personality with or without the
	// 32-bit and UNAME26 flags: never to turn on READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE.
	for _, p := range []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		rules = append(rules, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: p, Op: specs.OpEqualTo}}})
	}
	// clone(2) for threads and processes, never for new namespaces (CLONE_NEWNS, NEWCGROUP,
	// NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET).
	const newNamespaces = 0x7E020000
	rules = append(rules, specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: cloneFlags, Value: newNamespaces, ValueTwo: 0, Op: specs.OpMaskedEqual}}})
	// clone3(2) passes its flags in memory, where a filter cannot look: say it does not exist, so
	// that the C library falls back to clone(2), which the rule above checks.
	rules = append(rules, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm, Architectures: seccompArchitectures(), Syscalls: rules}
}

// seccompArchitectures are the system call ABIs a container on this host may use: the native one
// and its compat ABIs.
func seccompArchitectures() []specs.Arch {
	switch goruntime.GOARCH {
	case "amd64":
		return []specs.Arch{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}
	case "386":
		return []specs.Arch{"SCMP_ARCH_X86"}
	case "arm64":
		return []specs.Arch{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}
	case "arm":
		return []specs.Arch{"SCMP_ARCH_ARM"}
	case "ppc64le":
		return []specs.Arch{"SCMP_ARCH_PPC64LE"}
	case "s390x":
		return []specs.Arch{"SCMP_ARCH_S390X", "SCMP_ARCH_S390"}
	case "riscv64":
		return []specs.Arch{"SCMP_ARCH_RISCV64"}
	case "mips64le":
		return []specs.Arch{"SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_MIPSEL"}
	case "loong64":
		return []specs.Arch{"SCMP_ARCH_LOONGARCH64"}
	}
	return nil
}
