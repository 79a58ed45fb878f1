package load

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/defaults"
	"github.com/scratchkit/scratchkit/internal/envvar"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/gobuild"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/pgo"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/run"
	"github.com/scratchkit/scratchkit/targets/vuln"
)

// Destinations are the values image.publish accepts.
var Destinations = publish.Destinations

// Attestations are the values sign.attest accepts, and its default.
var Attestations = []string{"sbom", "provenance", "vuln"}

// SignFormats are the values sign.format accepts (sign.Formats; the config packages do not link
// cosign).
var SignFormats = []string{"bundle", "legacy", "both"}

// Runtimes are the values smoke.runtime accepts (run's).
var Runtimes = run.Runtimes()

// DevRuns are the values dev.run accepts.
var DevRuns = []string{"docker", "push", "resolve"}

// SBOMFormats are the values image.sbom accepts.
var SBOMFormats = []string{"spdx", "none"}

// closedSet is a key whose values are a closed set: a field of a configuration type, wherever
// the type occurs (verify's keys at the top level and in every build). A list's items are checked
// one by one.
type closedSet struct {
	in     reflect.Type
	key    string // the field's yaml key
	noun   string // what one value is, for messages
	values []string
}

// closedSets are all the keys whose values are a closed set. Lists another package owns are
// taken from it.
var closedSets = []closedSet{
	{reflect.TypeFor[config.Build](), "linkage", "a linkage", linkages()},
	{reflect.TypeFor[config.Verify](), "report", "a check", binary.CheckNames()},
	{reflect.TypeFor[config.Verify](), "enforce", "a hardening check", slices.DeleteFunc(binary.CheckNames(), func(n string) bool { return !binary.IsHardening(n) })},
	{reflect.TypeFor[config.Verify](), "vulncheck", "a vulnerability check mode", vuln.Modes()},
	{reflect.TypeFor[config.Image](), "sbom", "an SBOM format", SBOMFormats},
	{reflect.TypeFor[config.Image](), "publish", "a destination", Destinations},
	{reflect.TypeFor[config.Image](), "data_links", "a data link mode (refuse, keep, follow)", image.DataLinkModes()},
	{reflect.TypeFor[config.Smoke](), "runtime", "a container runtime", Runtimes},
	{reflect.TypeFor[config.Smoke](), "emulation", "an emulation mode (auto: run a foreign platform under qemu-user-static; off: check it statically only)", []string{"auto", "off"}},
	{reflect.TypeFor[config.Smoke](), "stop_exit", "a stop exit mode (report: warn on a non-zero exit after SIGTERM; enforce: fail)", run.StopExits()},
	{reflect.TypeFor[config.Smoke](), "network", "a smoke network (none: the container's own loopback only; host: the http probe shares the host's network)", SmokeNetworks},
	{reflect.TypeFor[config.Dev](), "run", "a dev destination (docker: replace the container; push: push and print the digest; resolve: push and write resolve.output)", DevRuns},
	{reflect.TypeFor[config.Dev](), "network", "a dev network (auto, bridge, host)", run.DevNetworks()},
	{reflect.TypeFor[config.Sign](), "attest", "an attestation", Attestations},
	{reflect.TypeFor[config.Sign](), "format", "a signature format", SignFormats},
}

// Allowed returns the values key, a field of the configuration type t, accepts when they are a
// closed set, else nil. For a list, they are the values of its items.
func Allowed(t reflect.Type, key string) []string {
	if s := closedSetOf(t, key); s != nil {
		return slices.Clone(s.values)
	}
	return nil
}

func closedSetOf(t reflect.Type, key string) *closedSet {
	for i := range closedSets {
		if closedSets[i].in == t && closedSets[i].key == key {
			return &closedSets[i]
		}
	}
	return nil
}

// checkClosedSets walks the configuration value v at path and reports every value of a
// closed-set key that is not in its set.
func checkClosedSets(v reflect.Value, path string, bad func(string, string, ...any)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			checkClosedSets(v.Elem(), path, bad)
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkClosedSets(v.Index(i), fmt.Sprintf("%s[%d]", path, i), bad)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			checkClosedSets(v.MapIndex(k), join(path, k.String()), bad)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			name := yamlName(t.Field(i))
			if name == "" || name == "-" {
				continue
			}
			p := join(path, name)
			set := closedSetOf(t, name)
			if set == nil {
				checkClosedSets(v.Field(i), p, bad)
				continue
			}
			check := func(p, val string) {
				// Empty is unset: the default (or, in a build, the top level's value) applies.
				if val != "" && !slices.Contains(set.values, val) {
					bad(p, "%q is not %s; write one of %s", val, set.noun, strings.Join(set.values, ", "))
				}
			}
			switch f := v.Field(i); f.Kind() {
			case reflect.String:
				check(p, f.String())
			case reflect.Slice:
				for j := range f.Len() {
					check(fmt.Sprintf("%s[%d]", p, j), f.Index(j).String())
				}
			}
		}
	}
}

// SmokeNetworks are the values smoke.network accepts (run's).
var SmokeNetworks = run.Networks()

var (
	imageNameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
)

// validate checks every value, collecting all errors.
func (r *Resolved) validate() error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, r.Errorf(path, format, args...)) }

	if d := filepath.Clean(r.Dist); d == "." || d == "/" || d == ".." {
		bad("dist", "%q would mix outputs with sources; write a folder of its own, e.g. dist", r.Dist)
	}
	r.checkPlatforms("platforms", r.Platforms, bad)
	r.checkBuilds(bad)
	if err := gobuild.CheckToolchain(r.Build.Toolchain); err != nil {
		bad("build.toolchain", "%v", err)
	}
	checkClosedSets(reflect.ValueOf(r.Config), "", bad)
	r.checkVuln(bad)
	checkImage(r.Image, bad)
	checkSmoke(r.Smoke, bad)
	checkPGO(r.PGO, bad)
	for i, p := range r.Dev.Ports {
		if _, err := run.ParsePortMapping(p); err != nil {
			bad(fmt.Sprintf("dev.ports[%d]", i), "%v", err)
		}
	}
	if r.Dev.Debounce < 0 {
		bad("dev.debounce", "%s is negative; write a duration such as 100ms", r.Dev.Debounce)
	}
	return errors.Join(errs...)
}

// checkBuilds checks every build: its main package, a name of its own, and the environment,
// flags, tags and platforms it adds to the top level's.
func (r *Resolved) checkBuilds(bad func(string, string, ...any)) {
	names := map[string]int{}
	for i, b := range r.Builds {
		p := fmt.Sprintf("builds[%d]", i)
		if strings.TrimSpace(b.Main) == "" {
			bad(p+".main", "missing; write the main package, e.g. main: ./cmd/%s", defaults.String(b.Name, "app"))
		}
		if b.Name != "" {
			if !imageNameRE.MatchString(b.Name) {
				bad(p+".name", "%q is not usable as a binary and image name; use lowercase letters, digits, '.', '_' and '-'", b.Name)
			}
			if j, dup := names[b.Name]; dup {
				bad(p+".name", "%q is also the name of builds[%d]; every build needs its own name", b.Name, j)
			}
			names[b.Name] = i
		}
		checkBuildEnv(p, b, bad)
		checkBuildFlags(p, b.Flags, bad)
		for j, tag := range b.Tags {
			if strings.ContainsAny(tag, " ,") || tag == "" {
				bad(fmt.Sprintf("%s.tags[%d]", p, j), "%q: write one build tag per list item", tag)
			}
		}
		r.checkPlatforms(p+".platforms", b.Platforms, bad)
	}
}

// checkBuildEnv checks the env of the build at key path p by gobuild's rule.
func checkBuildEnv(p string, b config.Build, bad func(string, string, ...any)) {
	for j, e := range b.Env {
		if err := gobuild.CheckEnv(e, binary.Linkage(b.Linkage)); err != nil {
			bad(fmt.Sprintf("%s.env[%d]", p, j), "%v", err)
		}
	}
}

// checkBuildFlags checks the flags of the build at key path p by gobuild's rule.
func checkBuildFlags(p string, flags []string, bad func(string, string, ...any)) {
	for j, f := range flags {
		if err := gobuild.CheckFlag(f); err != nil {
			bad(fmt.Sprintf("%s.flags[%d]", p, j), "%v", err)
		}
	}
}

// checkImage checks the image keys: a base pinned by digest, a user that is not root unless
// asked for, the config's env, ports, volumes and tags, and a repository where one is needed.
func checkImage(im config.Image, bad func(string, string, ...any)) {
	checkBase(im, bad)
	if image.IsRoot(im.User) && !im.AllowRoot {
		bad("image.user", "%q runs the image as root; set image.allow_root: true to ask for that explicitly, or leave user unset (%s, nonroot)", im.User, image.DefaultUser)
	}
	if _, err := image.CheckUser(im.User, im.Base); err != nil {
		bad("image.user", "%v", err)
	}
	for i, e := range im.Env {
		if _, _, err := envvar.Split(e); err != nil {
			bad(fmt.Sprintf("image.env[%d]", i), "%v", err)
		}
	}
	for i, p := range im.Ports {
		if _, err := image.ParsePort(p); err != nil {
			bad(fmt.Sprintf("image.ports[%d]", i), "%v", err)
		}
	}
	for i, v := range im.Volumes {
		if err := image.CheckVolume(v); err != nil {
			bad(fmt.Sprintf("image.volumes[%d]", i), "%v", err)
		}
	}
	for i, t := range im.Tags {
		if _, err := name.NewTag("example.invalid/x:" + t); err != nil || strings.Contains(t, ":") {
			bad(fmt.Sprintf("image.tags[%d]", i), "%q is not a valid tag (letters, digits, '_', '.', '-'; at most 128)", t)
		}
	}
	switch im.Repo {
	case "", publish.LocalDomain, publish.KindDomain:
	default:
		if _, err := name.NewRepository(im.Repo); err != nil {
			bad("image.repo", "%q is not a repository (registry/path, e.g. 127.0.0.1:5000/team): %v", im.Repo, err)
		}
	}
	if slices.Contains(im.Publish, publish.Registry) && (im.Repo == "" || im.Repo == publish.LocalDomain || im.Repo == publish.KindDomain) {
		bad("image.publish", "registry needs a repository; set image.repo or KO_DOCKER_REPO, e.g. 127.0.0.1:5000/team")
	}
}

// checkBase checks image.base: static, scratch, or an image reference pinned by digest (or
// allowed unpinned).
func checkBase(im config.Image, bad func(string, string, ...any)) {
	switch im.Base {
	case image.BaseStatic, image.BaseScratch:
	default:
		ref, err := name.ParseReference(im.Base)
		if err != nil {
			bad("image.base", "%q is neither static, scratch nor an image reference: %v", im.Base, err)
		} else if !image.BasePinned(im.Base) && !im.AllowUnpinned {
			bad("image.base", "%q is not pinned by digest, so the same commit could ship a different base tomorrow; write %s@sha256:<digest> (crane digest %s), or set image.allow_unpinned: true to accept it with a warning", im.Base, ref.Context().Name(), im.Base)
		}
	}
}

// checkSmoke checks the smoke keys: the container's limits, tmpfs mounts and env, and each
// image's probes.
func checkSmoke(s config.Smoke, bad func(string, string, ...any)) {
	if _, err := run.Capabilities(s.CapAdd); err != nil {
		bad("smoke.cap_add", "%v", err)
	}
	if s.Pids < run.MinPids {
		bad("smoke.pids", "%d: want at least %d (the Go runtime alone starts several threads); the default is %d", s.Pids, run.MinPids, run.DefaultPids)
	}
	seen := map[string]int{}
	for i, t := range s.Tmpfs {
		p := fmt.Sprintf("smoke.tmpfs[%d]", i)
		if err := run.CheckTmpfs(t.Path); err != nil {
			bad(p+".path", "%v", err)
		} else {
			if j, dup := seen[t.Path]; dup {
				bad(p+".path", "%s is also smoke.tmpfs[%d]; list each directory once", t.Path, j)
			}
			seen[t.Path] = i
		}
		if m, err := strconv.ParseUint(t.Mode, 8, 32); err != nil || m > 0o7777 {
			bad(p+".mode", "%q is not a mode; write the permission bits in octal, e.g. 1777 (as /tmp) or 0700", t.Mode)
		}
	}
	for i, e := range s.Env {
		if _, _, err := envvar.Split(e); err != nil {
			bad(fmt.Sprintf("smoke.env[%d]", i), "%v", err)
		}
	}
	for img, pr := range s.Images {
		p := "smoke.images." + img
		for i, item := range pr.Probes {
			if (item.Exit == nil) == (item.HTTP == nil) {
				bad(fmt.Sprintf("%s.probes[%d]", p, i), "want exactly one of exit and http in each item, e.g. - http: {port: 8080, path: /healthz}")
			}
		}
		for _, probe := range Probes(pr) {
			key, probs := p+"."+probe.Name, []run.Problem(nil)
			if probe.Exit != nil {
				probs = probe.Exit.Problems()
			} else {
				probs = probe.HTTP.Problems()
			}
			if strings.HasPrefix(probe.Name, "probes[") {
				key += "." + probe.Kind()
			}
			for _, pb := range probs {
				bad(key+"."+pb.Field, "%s", pb.Msg)
			}
		}
		if pr.Exit == nil && pr.HTTP == nil && len(pr.Probes) == 0 {
			bad(p, "no probe; write exit: {args: [--version]}, http: {port: 8080, path: /healthz}, or a probes list of them")
		}
	}
}

// checkPGO checks the pgo keys: http(s) endpoints and the collection's numbers.
func checkPGO(pg config.PGO, bad func(string, string, ...any)) {
	for i, e := range pg.Endpoints {
		if _, _, err := pgo.ProfileURL(e.URL, max(pg.Seconds, 1)); err != nil {
			bad(fmt.Sprintf("pgo.endpoints[%d]", i), "%v; write e.g. http://10.0.0.7:6060 or http://10.0.0.7:6060/debug/pprof/profile", err)
		}
	}
	if pg.Seconds < 1 {
		bad("pgo.seconds", "%d: want at least 1 second of samples", pg.Seconds)
	}
	if pg.MinSources < 0 {
		bad("pgo.min_sources", "%d: want 0 (every input) or more", pg.MinSources)
	}
	if pg.Retries < 0 {
		bad("pgo.retries", "%d: want 0 or more", pg.Retries)
	}
	switch pg.Check {
	case "", "off", "report", "enforce":
	default:
		bad("pgo.check", "%q: want off, report (measure, then place) or enforce (refuse a profile measured worse)", pg.Check)
	}
	if pg.CheckRounds < 2 {
		bad("pgo.check_rounds", "%d: want at least 2 (the spread needs two rounds)", pg.CheckRounds)
	}
	if pg.CheckWindow.D() <= 0 {
		bad("pgo.check_window", "%s: want a positive duration, e.g. 3s", pg.CheckWindow.D())
	}
	if w := pg.Workload; w != nil && w.Bench != nil {
		checkBench(*w.Bench, bad)
		for _, k := range []struct {
			key string
			set bool
		}{{"build", w.Build != ""}, {"command", len(w.Command) > 0}, {"args", len(w.Args) > 0}, {"pprof", w.Pprof != ""}, {"ready", w.Ready != ""}, {"load", len(w.Load) > 0}, {"urls", len(w.URLs) > 0}} {
			if k.set {
				bad("pgo.workload."+k.key, "not used with pgo.workload.bench (a library's benchmarks run in its test binary): remove one of them")
			}
		}
	}
}

// checkBench checks pgo.workload.bench: one package, a pattern, a benchtime go test accepts.
func checkBench(b config.Bench, bad func(string, string, ...any)) {
	const key = "pgo.workload.bench"
	switch {
	case b.Package == "":
		bad(key+".package", "missing: the package whose benchmarks run, e.g. ./parser")
	case strings.Contains(b.Package, "...") || strings.ContainsAny(b.Package, " \t\n"):
		bad(key+".package", "%q: want one package, e.g. ./parser (the check builds one test binary)", b.Package)
	case strings.HasPrefix(b.Package, "-"):
		bad(key+".package", "%q: a flag, not a package", b.Package)
	}
	if b.Pattern == "" {
		bad(key+".pattern", "missing: the benchmarks to run (-test.bench), e.g. BenchmarkParse or .")
	} else if _, err := regexp.Compile(b.Pattern); err != nil {
		bad(key+".pattern", "%q: %v", b.Pattern, err)
	}
	if bt := b.Benchtime; bt != "" {
		if n, ok := strings.CutSuffix(bt, "x"); ok {
			if v, err := strconv.Atoi(n); err != nil || v < 1 {
				bad(key+".benchtime", "%q: want a count of at least 1 (1000x) or a positive duration (3s)", bt)
			}
		} else if d, err := time.ParseDuration(bt); err != nil || d <= 0 {
			bad(key+".benchtime", "%q: want a positive duration (3s) or a count (1000x)", bt)
		}
	}
}

// checkPlatforms parses the platforms list at key path path, once, and keeps what it read for
// PlatformsOf.
func (r *Resolved) checkPlatforms(path string, ps []string, bad func(string, string, ...any)) {
	seen := map[platform.Platform]bool{}
	var out []platform.Platform
	for i, s := range ps {
		p, err := platform.Parse(s)
		if err != nil {
			bad(fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		if seen[p] {
			bad(fmt.Sprintf("%s[%d]", path, i), "%s is listed twice", p)
		}
		seen[p] = true
		out = append(out, p)
	}
	if r.platforms == nil {
		r.platforms = map[string][]platform.Platform{}
	}
	r.platforms[path] = out
}

// PlatformsOf returns the platforms of builds[i] as validation parsed them: its own, else the
// top-level ones, else the host. i < 0 is a build the configuration does not list (the main
// packages found when builds is empty): the top-level ones, else the host.
func (r *Resolved) PlatformsOf(i int) []platform.Platform {
	if i >= 0 {
		if own := r.platforms[fmt.Sprintf("builds[%d].platforms", i)]; len(own) > 0 {
			return own
		}
	}
	if top := r.platforms["platforms"]; len(top) > 0 {
		return top
	}
	return []platform.Platform{platform.Host()}
}

// HostOnly makes the host's platform (platform.Host) the only platform of every build: the
// dev loop builds what this machine runs, whatever the platforms lists say.
func (r *Resolved) HostOnly() {
	host := platform.Host()
	r.Platforms = []string{host.String()}
	for i := range r.Builds {
		r.Builds[i].Platforms = nil
	}
	r.platforms = map[string][]platform.Platform{"platforms": {host}}
}

// VerifyOf returns a build's verify settings: the top level with the build's overrides on top,
// its vuln_ignore entries added to the top level's, and vulncheck's default filled in.
func (r *Resolved) VerifyOf(b config.Build) config.Verify {
	v := r.Verify
	v.VulnIgnore = slices.Clone(v.VulnIgnore)
	if b.Verify != nil {
		o := *b.Verify
		if o.MaxSize != 0 {
			v.MaxSize = o.MaxSize
		}
		if o.Report != nil {
			v.Report = o.Report
		}
		if o.Enforce != nil {
			v.Enforce = o.Enforce
		}
		v.Breakdown = v.Breakdown || o.Breakdown
		if o.VulnCheck != "" {
			v.VulnCheck = o.VulnCheck
		}
		v.VulnIgnore = append(v.VulnIgnore, o.VulnIgnore...)
	}
	if v.VulnCheck == "" {
		v.VulnCheck = string(vuln.Report)
	}
	return v
}

// VulnDB returns the vulnerability database URL: verify.vulndb (or GOVULNDB), else vuln.go.dev.
func (r *Resolved) VulnDB() string {
	if r.Verify.VulnDB != "" {
		return r.Verify.VulnDB
	}
	return vuln.DefaultDB
}

// VulnIgnoreDate is the layout of verify.vuln_ignore[].until.
const VulnIgnoreDate = time.DateOnly

// checkVuln checks verify.vulndb and every vuln_ignore entry (their dates are checked against
// the clock by Verify, not here: a configuration does not become invalid overnight).
func (r *Resolved) checkVuln(bad func(string, string, ...any)) {
	if db := r.Verify.VulnDB; db != "" {
		if err := checkVulnDB(db); err != nil {
			bad("verify.vulndb", "%q: %v", db, err)
		}
	}
	checkIgnores := func(path string, list []config.VulnIgnore) {
		for i, ig := range list {
			p := fmt.Sprintf("%s[%d]", path, i)
			if strings.TrimSpace(ig.ID) == "" || strings.ContainsAny(ig.ID, " \t,") {
				bad(p+".id", "%q: write one vulnerability ID, e.g. GO-2024-2687, or an alias such as CVE-2023-45288", ig.ID)
			}
			if strings.TrimSpace(ig.Reason) == "" {
				bad(p+".reason", "missing: say why %s is accepted, for whoever reads this next", defaults.String(ig.ID, "it"))
			}
			if ig.Until == "" {
				bad(p+".until", "missing: write the last day the entry applies, e.g. until: %s, so that it is looked at again", time.Now().AddDate(0, 3, 0).Format(VulnIgnoreDate))
			} else if _, err := time.Parse(VulnIgnoreDate, ig.Until); err != nil {
				bad(p+".until", "%q is not a date; write YYYY-MM-DD, e.g. %s", ig.Until, time.Now().AddDate(0, 3, 0).Format(VulnIgnoreDate))
			}
		}
	}
	checkIgnores("verify.vuln_ignore", r.Verify.VulnIgnore)
	for i, b := range r.Builds {
		if b.Verify == nil {
			continue
		}
		if b.Verify.VulnDB != "" {
			bad(fmt.Sprintf("builds[%d].verify.vulndb", i), "the vulnerability database is read once per run for every build: set verify.vulndb at the top level")
		}
		checkIgnores(fmt.Sprintf("builds[%d].verify.vuln_ignore", i), b.Verify.VulnIgnore)
	}
}

// checkVulnDB checks a vulnerability database URL.
func checkVulnDB(db string) error {
	if db == vuln.GoProxy {
		return nil
	}
	if strings.Contains(db, ",") {
		return errors.New("names several databases (older govulncheck merged a comma-separated GOVULNDB list); scratchkit reads one: keep one URL")
	}
	u, err := url.Parse(db)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https", "http":
		if u.Host == "" {
			return errors.New("names no host; write e.g. https://vuln.go.dev")
		}
	case "file":
		if _, err := vuln.FilePath(u); err != nil {
			return err
		}
	default:
		return errors.New("not a database URL; write https://vuln.go.dev, another https:// mirror, file:///path/to/a/copy, or goproxy (the golang.org/x/vulndb module through GOPROXY)")
	}
	return nil
}

// Destinations returns where images go: image.publish, else what the repository implies
// (ko.local → daemon, kind.local → kind, a repository → registry), else layout and tarball.
func (r *Resolved) Destinations() []string {
	if len(r.Image.Publish) > 0 {
		return r.Image.Publish
	}
	return publish.DefaultDestinations(r.Image.Repo)
}

// Attest returns the attestations to make: sign.attest, or all of Attestations.
func (r *Resolved) Attest() []string {
	if r.Sign.Attest != nil {
		return r.Sign.Attest
	}
	return Attestations
}

// linkages are binary.BuildLinkages as strings.
func linkages() []string {
	var out []string
	for _, l := range binary.BuildLinkages() {
		out = append(out, string(l))
	}
	return out
}
