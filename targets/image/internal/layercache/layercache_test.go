package layercache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/prunemark"
)

func digestOf(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// entry puts blob under a fresh key and returns the cache, the key and the entry's path.
func entry(t *testing.T, blob []byte) (*Cache, string, string) {
	t.Helper()
	c := &Cache{Dir: t.TempDir()}
	key := Key("test", t.Name())
	must(t, c.Put(key, blob, digestOf(blob)))
	return c, key, filepath.Join(c.Dir, key+".layer")
}

func TestPutGet(t *testing.T) {
	blob := []byte("a compressed layer, as far as the cache knows")
	c, key, _ := entry(t, blob)
	got, d, err := c.Get(key, int64(len(blob)), nil)
	must(t, err)
	if !bytes.Equal(got, blob) || d != digestOf(blob) {
		t.Errorf("Get: %q %s, want %q %s", got, d, blob, digestOf(blob))
	}
	if _, _, err := c.Get(Key("another"), 1<<20, nil); !errors.Is(err, ErrMiss) {
		t.Errorf("Get of a missing key: %v, want ErrMiss", err)
	}
	if _, _, err := (&Cache{Dir: filepath.Join(t.TempDir(), "absent")}).Get(key, 1<<20, nil); !errors.Is(err, ErrMiss) {
		t.Errorf("Get in a missing directory: %v, want ErrMiss", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(file, nil, 0o644))
	if _, _, err := (&Cache{Dir: filepath.Join(file, "layers")}).Get(key, 1<<20, nil); !errors.Is(err, ErrMiss) {
		t.Errorf("Get under a file: %v, want ErrMiss", err)
	}
	if entries, _ := os.ReadDir(c.Dir); len(entries) != 1 {
		t.Errorf("the directory holds %v, want the entry alone (no temporary file)", entries)
	}
}

func TestKeySeparatesParts(t *testing.T) {
	if Key("ab", "c") == Key("a", "bc") || Key("a") == Key("a", "") {
		t.Error("Key joins parts ambiguously")
	}
	if len(Key("x")) != 64 {
		t.Errorf("Key %q is not 64 hex digits", Key("x"))
	}
}

func TestPutRefusesAWrongDigest(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	err := c.Put(Key("k"), []byte("blob"), digestOf([]byte("other")))
	if err == nil || !strings.Contains(err.Error(), "does not have digest") {
		t.Fatalf("Put with a wrong digest: %v", err)
	}
	if err := c.Put("../escape", []byte("blob"), digestOf([]byte("blob"))); err == nil {
		t.Error("Put accepted a key that is a path")
	}
}

// Every kind of damage is refused with a reason, the entry is removed, and the next Get misses.
func TestGetRefusesDamagedEntries(t *testing.T) {
	blob := bytes.Repeat([]byte("layer bytes "), 1000)
	cases := []struct {
		name   string
		damage func(t *testing.T, path, key string)
		want   string
	}{
		{"truncated", func(t *testing.T, p, _ string) { must(t, os.Truncate(p, 200)) }, "truncated"},
		{"empty", func(t *testing.T, p, _ string) { must(t, os.Truncate(p, 0)) }, "no header line"},
		{"one byte altered", func(t *testing.T, p, _ string) {
			b, err := os.ReadFile(p)
			must(t, err)
			b[len(b)-500] ^= 0x20
			must(t, os.WriteFile(p, b, 0o644))
		}, "altered"},
		{"bytes appended", func(t *testing.T, p, _ string) {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteString("more")
			must(t, err)
			must(t, f.Close())
		}, "the header says"},
		{"garbage", func(t *testing.T, p, _ string) { must(t, os.WriteFile(p, bytes.Repeat([]byte{0xff}, 5000), 0o644)) }, "no header line"},
		{"another format", func(t *testing.T, p, key string) {
			must(t, os.WriteFile(p, []byte("scratchkit-layer 2 "+key+" "+digestOf(blob).String()+" 12000\n"+string(blob)), 0o644))
		}, "want"},
		{"another key's entry", func(t *testing.T, p, _ string) {
			other := Key("other")
			must(t, os.WriteFile(p, []byte(fmt.Sprintf("%s %s %s %d\n%s", magic, other, digestOf(blob), len(blob), blob)), 0o644))
		}, "header names key"},
		{"bad digest", func(t *testing.T, p, key string) {
			must(t, os.WriteFile(p, []byte(fmt.Sprintf("%s %s md5:abc %d\n%s", magic, key, len(blob), blob)), 0o644))
		}, "header digest"},
		{"bad size", func(t *testing.T, p, key string) {
			must(t, os.WriteFile(p, []byte(fmt.Sprintf("%s %s %s -1\n%s", magic, key, digestOf(blob), blob)), 0o644))
		}, "header size"},
		{"too large", func(t *testing.T, p, _ string) { must(t, os.Truncate(p, 1<<30)) }, "more than"},
		{"a directory", func(t *testing.T, p, _ string) { must(t, os.Remove(p)); must(t, os.Mkdir(p, 0o755)) }, "not a regular file"},
		{"a symbolic link", func(t *testing.T, p, _ string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			must(t, os.Rename(p, target))
			must(t, os.Symlink(target, p))
		}, "not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, key, p := entry(t, blob)
			tc.damage(t, p, key)
			got, _, err := c.Get(key, int64(len(blob)), nil)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("Get of a damaged entry: %d bytes, error %v, want ErrDamaged", len(got), err)
			}
			if got != nil {
				t.Errorf("Get returned %d bytes with its error", len(got))
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "removed it") {
				t.Errorf("error %q: want the entry's path, %q and that it was removed", err, tc.want)
			}
			if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the damaged entry is still there: %v", err)
			}
			if _, _, err := c.Get(key, int64(len(blob)), nil); !errors.Is(err, ErrMiss) {
				t.Errorf("Get after removal: %v, want ErrMiss", err)
			}
			must(t, c.Put(key, blob, digestOf(blob)))
			if got, _, err := c.Get(key, int64(len(blob)), nil); err != nil || !bytes.Equal(got, blob) {
				t.Errorf("Get after a new Put: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestGetAppliesTheCallersCheck(t *testing.T) {
	blob := []byte("blob")
	c, key, p := entry(t, blob)
	_, _, err := c.Get(key, 4, func(b []byte) error {
		if !bytes.Equal(b, blob) {
			t.Errorf("check got %q", b)
		}
		return errors.New("made for other content")
	})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "made for other content") {
		t.Fatalf("Get: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Error("an entry the check refused is still there")
	}
}

// Writers and readers of one key at once: every Get is a miss or the whole blob, never a part.
func TestConcurrentPutGet(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	blob := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	key := Key("shared")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if err := c.Put(key, blob, digestOf(blob)); err != nil {
					errs <- err
					return
				}
				got, _, err := c.Get(key, int64(len(blob)), nil)
				if err != nil && !errors.Is(err, ErrMiss) {
					errs <- err
					return
				}
				if err == nil && !bytes.Equal(got, blob) {
					errs <- fmt.Errorf("Get returned %d bytes, not the blob", len(got))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestGetRefreshesTheUseTime(t *testing.T) {
	blob := []byte("blob")
	c, key, p := entry(t, blob)
	old := time.Now().Add(-48 * time.Hour)
	must(t, os.Chtimes(p, old, old))
	_, _, err := c.Get(key, 4, nil)
	must(t, err)
	fi, err := os.Stat(p)
	must(t, err)
	if time.Since(fi.ModTime()) > time.Minute {
		t.Errorf("a hit left the entry's time at %v", fi.ModTime())
	}
}

func TestPrune(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := &Cache{Dir: t.TempDir(), MaxAge: 30 * 24 * time.Hour, MaxBytes: 3000, Now: func() time.Time { return now }}
	put := func(name string, size int, age time.Duration) string {
		blob := bytes.Repeat([]byte{'x'}, size)
		key := Key(name)
		must(t, c.Put(key, blob, digestOf(blob)))
		p := filepath.Join(c.Dir, key+".layer")
		must(t, os.Chtimes(p, now.Add(-age), now.Add(-age)))
		return p
	}
	stale := put("unused for 31 days", 10, 31*24*time.Hour)
	oldest := put("oldest of the rest", 1000, 20*24*time.Hour)
	older := put("older", 1000, 10*24*time.Hour)
	newer := put("newer", 1000, time.Hour)
	newest := put("newest", 500, 0)
	deadTemp := filepath.Join(c.Dir, ".x.layer.tmp-123")
	must(t, os.WriteFile(deadTemp, []byte("half"), 0o644))
	must(t, os.Chtimes(deadTemp, now.Add(-2*24*time.Hour), now.Add(-2*24*time.Hour)))
	liveTemp := filepath.Join(c.Dir, ".y.layer.tmp-456")
	must(t, os.WriteFile(liveTemp, []byte("being written"), 0o644))
	must(t, os.Chtimes(liveTemp, now, now))
	other := filepath.Join(c.Dir, "README")
	must(t, os.WriteFile(other, []byte("not ours"), 0o644))
	must(t, os.Chtimes(other, now.Add(-365*24*time.Hour), now.Add(-365*24*time.Hour)))

	must(t, c.Prune())
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for p, want := range map[string]bool{
		stale: false, oldest: false, // too old; then the least recently used while over 3000 bytes
		older: true, newer: true, newest: true,
		deadTemp: false, liveTemp: true, other: true,
	} {
		if exists(p) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), !want, want)
		}
	}

	// Within a day of the last walk, Prune does nothing.
	gone := put("unused for a year", 10, 365*24*time.Hour)
	now = now.Add(23 * time.Hour)
	must(t, os.Chtimes(filepath.Join(c.Dir, prunemark.Name), now.Add(-23*time.Hour), now.Add(-23*time.Hour)))
	must(t, c.Prune())
	if !exists(gone) {
		t.Error("Prune walked the directory twice in a day")
	}
	now = now.Add(2 * time.Hour)
	must(t, c.Prune())
	if exists(gone) {
		t.Error("Prune did not walk the directory a day later")
	}

	if err := (&Cache{Dir: filepath.Join(t.TempDir(), "absent")}).Prune(); err != nil {
		t.Errorf("Prune of a missing directory: %v", err)
	}
}
