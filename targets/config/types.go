package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes written as 20MB, 512KiB or 1048576. KB/MB/GB are decimal, KiB/MiB/GiB binary.
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1000}, {"M", 1000 * 1000}, {"G", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseSize reads a Size.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size; write e.g. 20MB, 512KiB or a number of bytes", s)
	}
	return Size(f * float64(mult)), nil
}

// String writes the size in the largest decimal unit that keeps it readable.
func (s Size) String() string {
	switch {
	case s >= 1000*1000*1000:
		return strconv.FormatFloat(float64(s)/1e9, 'f', -1, 64) + "GB"
	case s >= 1000*1000:
		return strconv.FormatFloat(float64(s)/1e6, 'f', -1, 64) + "MB"
	case s >= 1000:
		return strconv.FormatFloat(float64(s)/1e3, 'f', -1, 64) + "KB"
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalYAML reads a Size from a YAML scalar. (It uses yaml's function-style unmarshaler
// interface, so this package needs no YAML library; the loader checks the value with its line
// before decoding.)
func (s *Size) UnmarshalYAML(unmarshal func(any) error) error {
	var text string
	if err := unmarshal(&text); err != nil {
		return err
	}
	v, err := ParseSize(text)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseDuration reads a Duration: a Go duration (30s, 2m) or a number of seconds.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil && n >= 0 {
		return Duration(time.Duration(n) * time.Second), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration; write e.g. 30s, 2m or 1m30s", s)
	}
	return Duration(d), nil
}

// String writes the duration the way Go does.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a Duration from a YAML scalar.
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var text string
	if err := unmarshal(&text); err != nil {
		return err
	}
	v, err := ParseDuration(text)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML reads a Tmpfs from a path or from a mapping.
func (t *Tmpfs) UnmarshalYAML(unmarshal func(any) error) error {
	var path string
	if unmarshal(&path) == nil {
		t.Path = path
		return nil
	}
	type plain Tmpfs
	return unmarshal((*plain)(t))
}

// UnmarshalYAML reads an Endpoint from a URL or from a mapping.
func (e *Endpoint) UnmarshalYAML(unmarshal func(any) error) error {
	var url string
	if unmarshal(&url) == nil {
		e.URL = url
		return nil
	}
	type plain Endpoint
	return unmarshal((*plain)(e))
}
