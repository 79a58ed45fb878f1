package lint

import (
	"strings"
	"testing"
)

func TestResolveUser(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\napp:x:1000:1000::/srv/app:/bin/false\n")
	group := []byte("root:x:0:\nnonroot:x:65532:\napp:x:1000:\nmetrics:x:2000:app,other\n")
	cases := []struct {
		spec           string
		uid, gid       int
		groups         []int
		home, name     string
		listed, errors bool
	}{
		{spec: "", uid: 0, gid: 0, home: "/root", name: "root", listed: true},
		{spec: "65532:65532", uid: 65532, gid: 65532, home: "/home/nonroot", name: "nonroot", listed: true},
		{spec: "nonroot", uid: 65532, gid: 65532, home: "/home/nonroot", name: "nonroot", listed: true},
		{spec: "app:metrics", uid: 1000, gid: 2000, home: "/srv/app", name: "app", listed: true},
		{spec: "app", uid: 1000, gid: 1000, groups: []int{2000}, home: "/srv/app", name: "app", listed: true},
		{spec: "4242", uid: 4242, gid: 0, home: "/"},
		{spec: "4242:7", uid: 4242, gid: 7, home: "/"},
		{spec: "ghost", errors: true},
		{spec: "app:ghosts", errors: true},
	}
	for _, c := range cases {
		u, err := resolveUser(c.spec, passwd, group)
		if c.errors {
			if err == nil || !strings.Contains(err.Error(), "no matching entries") {
				t.Errorf("%q: err %v, want no matching entries", c.spec, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if u.UID() != c.uid || u.GID() != c.gid || u.Home() != c.home || u.name != c.name || u.listed != c.listed || len(u.groups) != len(c.groups) {
			t.Errorf("%q: got %+v", c.spec, u)
		}
		for k := range c.groups {
			if u.groups[k] != c.groups[k] {
				t.Errorf("%q: groups %v, want %v", c.spec, u.groups, c.groups)
			}
		}
	}
	if _, err := resolveUser("app", nil, nil); err == nil || !strings.Contains(err.Error(), "no /etc/passwd") {
		t.Errorf("name without passwd: %v", err)
	}
}
