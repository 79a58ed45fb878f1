// Package binary inspects executables and checks that they will run in a scratch or
// distroless image: the engine behind scratchkit's Verify target, usable on any file.
//
// Inspect reads a file once (sha256 and a scan for build-machine paths in one pass) plus the
// headers and tables it needs: the ELF headers and dynamic section (debug/elf), the Go build
// info (debug/buildinfo), and the Go function table (debug/gosym), which stripped Go binaries
// keep and which tells what the program links (Features) and how much code each package adds.
// Hostile input — truncated or corrupt files, absurd header counts, directories, unreadable
// files — gives an error, never a panic.
//
// Check compares an Info with what the build recorded (Expect) and returns a Report with one
// Result per check: linkage, platform, cgo, trimpath, stripped, paths, packed, integrity,
// size, and the hardening checks pie, relro and nx. Each failure's Detail names what was
// found, what it does in a container, and the fix. Verify is Inspect followed by Check. The
// package returns Reports; printing them for a person (scratchkit's Verify table) is the
// caller's part.
//
// Nothing here shells out to file, ldd or readelf.
package binary
