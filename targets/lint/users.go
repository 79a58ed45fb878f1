package lint

import (
	"fmt"
	"strconv"
	"strings"
)

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

// groupEntry is one line of /etc/group.
type groupEntry struct {
	name    string
	gid     int
	members []string
}

func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 7 {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]})
	}
	return out
}

func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 4 {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		g := groupEntry{name: f[0], gid: gid}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.members = append(g.members, m)
			}
		}
		out = append(out, g)
	}
	return out
}

// User is who the container's process runs as, resolved the way runc and docker resolve the
// image config's User against the image's /etc/passwd and /etc/group.
type User struct {
	spec      string // as written in the config ("" is root)
	uid, gid  int
	groups    []int  // supplementary groups: those of /etc/group listing the user
	name      string // from /etc/passwd, "" when the uid is not listed
	home      string // from /etc/passwd, "/" when not listed
	listed    bool   // the uid has a passwd entry
	hasPasswd bool
}

func (u User) Root() bool { return u.uid == 0 }

func (u User) String() string {
	s := fmt.Sprintf("%d:%d", u.uid, u.gid)
	if u.name != "" {
		s = u.name + " (" + s + ")"
	}
	return s
}

// resolveUser resolves spec (user[:group], names or numbers) against the image's passwd and group
// files (nil when absent). A name that is not listed is an error, as it is for runc and docker.
func resolveUser(spec string, passwd, group []byte) (User, error) {
	users, groups := parsePasswd(passwd), parseGroup(group)
	u := User{spec: spec, home: "/", hasPasswd: passwd != nil}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	switch {
	case userPart == "":
		// root
	case numeric(userPart):
		uid, err := strconv.ParseUint(userPart, 10, 31)
		if err != nil {
			return u, fmt.Errorf("user %q: uid out of range", spec)
		}
		u.uid = int(uid)
	default:
		found := false
		for _, e := range users {
			if e.name == userPart {
				u.uid, found = e.uid, true
				break
			}
		}
		if !found {
			where := "the image's /etc/passwd does not list it"
			if passwd == nil {
				where = "the image has no /etc/passwd"
			}
			// docker's and runc's own words, so that Diagnose knows them either way.
			return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file (image user %q; %s)", userPart, spec, where)
		}
	}
	for _, e := range users {
		if e.uid == u.uid && (userPart == "" || numeric(userPart) || e.name == userPart) {
			u.name, u.gid, u.home, u.listed = e.name, e.gid, e.home, true
			break
		}
	}
	if hasGroup && groupPart != "" {
		if numeric(groupPart) {
			u.gid, _ = strconv.Atoi(groupPart)
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.gid, found = g.gid, true
					break
				}
			}
			if !found {
				where := "the image's /etc/group does not list it"
				if group == nil {
					where = "the image has no /etc/group"
				}
				return u, fmt.Errorf("unable to find group %s: no matching entries in group file (image user %q; %s)", groupPart, spec, where)
			}
		}
	}
	if u.name != "" {
		for _, g := range groups {
			for _, m := range g.members {
				if m == u.name && g.gid != u.gid {
					u.groups = append(u.groups, g.gid)
				}
			}
		}
	}
	if u.home == "" {
		u.home = "/"
	}
	return u, nil
}

// inGroup reports whether the user has gid as primary or supplementary group.
func (u User) inGroup(gid int) bool {
	if u.gid == gid {
		return true
	}
	for _, g := range u.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// may reports whether the user has permission bit (4 read, 2 write, 1 execute/search) on a file
// with this mode and owner. Root may read and write anything and execute what has any x bit.
func (u User) may(bit int64, mode int64, uid, gid int) bool {
	if u.Root() {
		if bit == 1 {
			return mode&0o111 != 0
		}
		return true
	}
	switch {
	case uid == u.uid:
		return mode&(bit<<6) != 0
	case u.inGroup(gid):
		return mode&(bit<<3) != 0
	}
	return mode&bit != 0
}

// numeric reports whether a user or group is given by number (docker's rule: all digits).
func numeric(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// UID is the numeric user the process runs as.
func (u User) UID() int { return u.uid }

// GID is the process's primary group.
func (u User) GID() int { return u.gid }

// Groups are the supplementary groups: those /etc/group lists the user in.
func (u User) Groups() []int { return u.groups }

// Home is the user's home directory from /etc/passwd, "/" when the uid is not listed.
func (u User) Home() string { return u.home }
