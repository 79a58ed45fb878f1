package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/platform"
	"go.yaml.in/yaml/v3"
)

// FileName is the name of scratchkit's own configuration file.
const FileName = "scratchkit.yaml"

// Resolved is a loaded and validated configuration, with where each value came from.
type Resolved struct {
	config.Config
	// Dir is the absolute working directory the configuration was loaded for.
	Dir string
	// Files are the configuration files that were read.
	Files []string
	// Warnings are things worth telling a person that are not errors (e.g. ignored .ko.yaml keys).
	Warnings []string

	origins map[string]string
	// platforms are the platforms lists as validation parsed them, by key path ("platforms",
	// "builds[2].platforms"): PlatformsOf reads these, never the strings again.
	platforms map[string][]platform.Platform
}

// Options says where to load from.
type Options struct {
	// Dir is the working directory holding scratchkit.yaml and .ko.yaml. Default: ".".
	Dir string
	// Configure is what the magefile passed to targets.Configure.
	Configure *config.Config
	// LookupEnv reads the environment. Default: os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Load reads the configuration in precedence order and validates it.
func Load(opts Options) (*Resolved, error) {
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	r := &Resolved{Dir: abs, origins: map[string]string{}}

	if err := r.mergeKoYAML(lookup); err != nil {
		return nil, err
	}
	fileErrs, err := r.mergeScratchkitYAML(lookup)
	if err != nil {
		return nil, err
	}

	if opts.Configure != nil {
		merge(reflect.ValueOf(&r.Config).Elem(), reflect.ValueOf(*opts.Configure), "", nil, r.origins, "targets.Configure")
	}

	envLayer, envOrigins, err := fromEnv(lookup)
	if err != nil {
		return nil, err
	}
	merge(reflect.ValueOf(&r.Config).Elem(), reflect.ValueOf(envLayer), "", envOrigins, r.origins, "")

	if err := applyDefaults(reflect.ValueOf(&r.Config).Elem()); err != nil {
		return nil, fmt.Errorf("config: built-in default: %w", err)
	}
	if err := errors.Join(append(fileErrs, r.validate())...); err != nil {
		return nil, err
	}
	return r, nil
}

// mergeKoYAML merges .ko.yaml into r when there is one, found as ko finds it (KO_CONFIG_PATH
// may name the file or its directory).
func (r *Resolved) mergeKoYAML(lookup func(string) (string, bool)) error {
	koPath := filepath.Join(r.Dir, ".ko.yaml")
	if p, ok := lookup("KO_CONFIG_PATH"); ok && p != "" {
		koPath = p
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			koPath = filepath.Join(p, ".ko.yaml")
		}
		if !filepath.IsAbs(koPath) {
			koPath = filepath.Join(r.Dir, koPath)
		}
	}
	data, err := os.ReadFile(koPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("config: read %s: %w", koPath, err)
	}
	layer, origins, warns, err := loadKo(r.rel(koPath), data)
	if err != nil {
		return err
	}
	r.Files = append(r.Files, koPath)
	r.Warnings = append(r.Warnings, warns...)
	merge(reflect.ValueOf(&r.Config).Elem(), reflect.ValueOf(layer), "", origins, r.origins, "")
	return nil
}

// mergeScratchkitYAML merges scratchkit.yaml (or the file SCRATCHKIT_CONFIG names, which must
// exist) into r when there is one. Its unknown keys and values of the wrong shape are keyErrs,
// reported with validation's; err is fatal.
func (r *Resolved) mergeScratchkitYAML(lookup func(string) (string, bool)) (keyErrs []error, err error) {
	skPath := filepath.Join(r.Dir, FileName)
	if p, ok := lookup("SCRATCHKIT_CONFIG"); ok && p != "" {
		skPath = p
		if !filepath.IsAbs(skPath) {
			skPath = filepath.Join(r.Dir, skPath)
		}
	}
	data, err := os.ReadFile(skPath)
	if errors.Is(err, os.ErrNotExist) {
		if _, set := lookup("SCRATCHKIT_CONFIG"); set {
			return nil, fmt.Errorf("config: SCRATCHKIT_CONFIG names %s, which does not exist", skPath)
		}
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", skPath, err)
	}
	layer, origins, err := loadFile(r.rel(skPath), data)
	var ke *keyErrors
	if errors.As(err, &ke) {
		keyErrs = ke.errs
	} else if err != nil {
		return nil, err
	}
	r.Files = append(r.Files, skPath)
	merge(reflect.ValueOf(&r.Config).Elem(), reflect.ValueOf(layer), "", origins, r.origins, "")
	return keyErrs, nil
}

// rel names a file relative to the working directory when it is inside it.
func (r *Resolved) rel(p string) string {
	if rel, err := filepath.Rel(r.Dir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

// Where says where the value at a key path (e.g. "builds[0].main") came from: "scratchkit.yaml:7",
// "targets.Configure", "environment variable SCRATCHKIT_PLATFORMS" or "default".
func (r *Resolved) Where(path string) string {
	for p := path; p != ""; p = parent(p) {
		if o, ok := r.origins[p]; ok {
			return o
		}
	}
	return "default"
}

// Errorf returns an error about the value at a key path, prefixed with where it came from.
func (r *Resolved) Errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", r.Where(path), path, fmt.Sprintf(format, args...))
}

// parent strips the last element of a key path: builds[0].main → builds[0] → builds.
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// loadFile parses scratchkit.yaml strictly: unknown keys and wrong shapes are errors with lines.
func loadFile(name string, data []byte) (config.Config, map[string]string, error) {
	var c config.Config
	origins := map[string]string{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return c, nil, fmt.Errorf("%s: %s", name, yamlMessage(name, err))
	}
	if len(doc.Content) == 0 {
		return c, origins, nil // an empty file is an empty configuration
	}
	errs, err := checkKeys(doc.Content[0], reflect.TypeOf(c), name, origins)
	if err != nil {
		return c, nil, err
	}
	if err := doc.Content[0].Decode(&c); err != nil {
		if len(errs) > 0 {
			// The checker has already said what is wrong, with lines; the decoder's
			// message (e.g. a bad size, without a line) would only repeat it.
			return c, nil, errors.Join(errs...)
		}
		return c, nil, errors.New(yamlMessage(name, err))
	}
	if len(errs) > 0 {
		// Unknown keys are reported together with the errors in the known ones' values.
		return c, origins, &keyErrors{errs}
	}
	return c, origins, nil
}

// keyErrors are unknown or misshapen keys in a file whose other values were still read, so
// that one run reports them together with the errors in the values.
type keyErrors struct{ errs []error }

func (k *keyErrors) Error() string { return errors.Join(k.errs...).Error() }

var lineRE = regexp.MustCompile(`(?m)^\s*(?:yaml: )?line (\d+): `)

// yamlMessage turns yaml.v3's "line N: ..." errors into "file:N: ..." lines.
func yamlMessage(name string, err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			lines[i] = lineRE.ReplaceAllString(e, name+":$1: ")
		}
		return strings.Join(lines, "\n")
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		return lineRE.ReplaceAllString(err.Error(), name+":$1: ")
	}
	return name + ": " + msg
}

var (
	sizeType     = reflect.TypeOf(config.Size(0))
	durationType = reflect.TypeOf(config.Duration(0))
)

// scalarForms are the mappings a single value may stand for, by the field it sets: a pgo
// endpoint written as its URL, a smoke tmpfs as its path. (Their types read both forms from
// YAML themselves; the loader accepts both, and builds them from environment lists.)
var scalarForms = map[reflect.Type]string{
	reflect.TypeOf(config.Endpoint{}): "URL",
	reflect.TypeOf(config.Tmpfs{}):    "Path",
}

// leaf reports whether a type is set as a whole rather than merged field by field.
func leaf(t reflect.Type) bool {
	return t.Kind() != reflect.Struct || scalarForms[t] != ""
}

// MaxAliasNodes bounds what YAML aliases may repeat: the values a configuration file's aliases
// expand to, counted over the whole file. Every alias is walked again wherever it is used, so a
// few lines of nested aliases can otherwise expand to billions of values (an alias bomb).
const MaxAliasNodes = 100_000

// keyChecker walks a YAML document against a Go type, reporting unknown keys and wrong shapes
// with their lines and recording the line of every key path it sees. Aliases are walked where
// they are used, within MaxAliasNodes.
type keyChecker struct {
	file    string
	origins map[string]string
	errs    []error

	expanded int        // values visited again through aliases
	alias    *yaml.Node // the outermost alias being walked, nil outside aliases
	aliasAt  string     // its key path
	bomb     error      // set when expanded passed MaxAliasNodes: the walk stops
}

// checkKeys walks doc against t. A non-nil error is fatal (an alias bomb); key errors are in
// c.errs.
func checkKeys(doc *yaml.Node, t reflect.Type, file string, origins map[string]string) (errs []error, fatal error) {
	c := &keyChecker{file: file, origins: origins}
	c.check(doc, t, "")
	return c.errs, c.bomb
}

func (c *keyChecker) check(n *yaml.Node, t reflect.Type, path string) {
	if c.bomb != nil {
		return
	}
	if c.countExpansion() {
		return
	}
	at := fmt.Sprintf("%s:%d", c.file, n.Line)
	if path != "" {
		c.origins[path] = at
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		if c.alias == nil {
			c.alias, c.aliasAt = n, path
			defer func() { c.alias, c.aliasAt = nil, "" }()
		}
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	what := path
	if what == "" {
		what = "the top level"
	}
	switch {
	case scalarForms[t] != "" && n.Kind == yaml.ScalarNode:
		return
	case t.Kind() == reflect.Struct && t != sizeType && t != durationType:
		c.checkStruct(n, t, path, at, what)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.errs = append(c.errs, fmt.Errorf("%s: %s: want a list, not %s; write e.g. %s: [a, b]", at, what, shape(n), lastKey(path)))
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.errs = append(c.errs, fmt.Errorf("%s: %s: want a mapping, not %s", at, what, shape(n)))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			c.check(v, t.Elem(), kp)
			c.origins[kp] = fmt.Sprintf("%s:%d", c.file, k.Line)
		}
	default:
		c.checkValue(n, t, at, what)
	}
}

// countExpansion counts a value visited again through an alias and reports whether the aliases
// have now expanded to more than MaxAliasNodes values: then c.bomb is set and the walk stops.
func (c *keyChecker) countExpansion() bool {
	if c.alias == nil {
		return false
	}
	if c.expanded++; c.expanded <= MaxAliasNodes {
		return false
	}
	what := c.aliasAt
	if what == "" {
		what = "the top level"
	}
	c.bomb = fmt.Errorf("%s:%d: %s: the alias *%s expands, with the aliases in it, to more than %d values (scratchkit's limit on what a file's aliases repeat in all, config.MaxAliasNodes): "+
		"an alias bomb, or aliases nested deeper than a configuration needs; write the values out, or alias fewer of them", c.file, c.alias.Line, what, c.alias.Value, MaxAliasNodes)
	return true
}

// checkStruct checks a mapping n, at what (line at), against the keys of the struct type t.
func (c *keyChecker) checkStruct(n *yaml.Node, t reflect.Type, path, at, what string) {
	if n.Kind != yaml.MappingNode {
		c.errs = append(c.errs, fmt.Errorf("%s: %s: want a mapping of keys (%s), not %s", at, what, strings.Join(keysOf(t), ", "), shape(n)))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fieldByTag(t, k.Value)
		if !ok {
			c.errs = append(c.errs, fmt.Errorf("%s:%d: %s: unknown key %q%s", c.file, k.Line, what, k.Value, didYouMean(k.Value, keysOf(t))))
			continue
		}
		kp := join(path, k.Value)
		c.check(v, f.Type, kp)
		c.origins[kp] = fmt.Sprintf("%s:%d", c.file, k.Line)
	}
}

// checkValue checks that n, at what (line at), is a single value, and a valid one where t is a
// size or a duration.
func (c *keyChecker) checkValue(n *yaml.Node, t reflect.Type, at, what string) {
	if n.Kind != yaml.ScalarNode {
		c.errs = append(c.errs, fmt.Errorf("%s: %s: want a single value, not %s", at, what, shape(n)))
		return
	}
	// Sizes and durations are read by the model's own unmarshalers, which know no lines:
	// their values are checked here, where the line is known.
	var err error
	switch t {
	case sizeType:
		_, err = config.ParseSize(n.Value)
	case durationType:
		_, err = config.ParseDuration(n.Value)
	}
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %s: %v", at, what, err))
	}
}

func lastKey(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}

func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("the value %q", n.Value)
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if yamlName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func keysOf(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" && n != "-" {
			keys = append(keys, n)
		}
	}
	return keys
}

// didYouMean suggests the closest known key, and lists them all.
func didYouMean(key string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := distance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	if best != "" && bestD <= 2+len(key)/4 {
		return fmt.Sprintf("; did you mean %q? (known keys: %s)", best, strings.Join(sorted, ", "))
	}
	return fmt.Sprintf("; known keys: %s", strings.Join(sorted, ", "))
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// merge copies the non-zero values of src over dst, field by field for structs, whole for
// everything else, and moves the origins of what it copied.
func merge(dst, src reflect.Value, path string, from, into map[string]string, label string) {
	if src.IsZero() {
		return
	}
	if !leaf(src.Type()) {
		t := src.Type()
		for i := 0; i < t.NumField(); i++ {
			merge(dst.Field(i), src.Field(i), join(path, yamlName(t.Field(i))), from, into, label)
		}
		return
	}
	dst.Set(src)
	for k := range into {
		if under(k, path) {
			delete(into, k)
		}
	}
	for k, v := range from {
		if under(k, path) {
			into[k] = v
		}
	}
	if label != "" {
		into[path] = label
	}
}

func under(k, path string) bool {
	return k == path || strings.HasPrefix(k, path+".") || strings.HasPrefix(k, path+"[")
}

// applyDefaults fills zero fields from their `default` tags, everywhere in the tree.
func applyDefaults(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			return applyDefaults(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if err := applyDefaults(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			if err := applyDefaults(e); err != nil {
				return err
			}
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := v.Field(i)
			if def, ok := t.Field(i).Tag.Lookup("default"); ok && f.IsZero() {
				if err := setString(f, def); err != nil {
					return fmt.Errorf("%s: %w", t.Field(i).Name, err)
				}
			}
			if err := applyDefaults(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// setString sets a scalar or list field from its string form (defaults, environment variables).
func setString(f reflect.Value, s string) error {
	switch {
	case f.Type() == sizeType:
		n, err := config.ParseSize(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(n))
	case f.Type() == durationType:
		d, err := config.ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.Set(reflect.ValueOf(&b))
	case f.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(int64(n))
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		f.Set(reflect.ValueOf(splitList(s)))
	case f.Kind() == reflect.Slice && scalarForms[f.Type().Elem()] != "":
		items := reflect.MakeSlice(f.Type(), 0, 0)
		for _, v := range splitList(s) {
			item := reflect.New(f.Type().Elem()).Elem()
			item.FieldByName(scalarForms[f.Type().Elem()]).SetString(v)
			items = reflect.Append(items, item)
		}
		f.Set(items)
	case f.Kind() == reflect.Map && f.Type().Elem().Kind() == reflect.String:
		m := map[string]string{}
		for _, kv := range splitList(s) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%q is not KEY=VALUE", kv)
			}
			m[strings.TrimSpace(k)] = v
		}
		f.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("cannot be set from a string")
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// EnvVars lists every SCRATCHKIT_* variable and the key it sets, in key order.
func EnvVars() []EnvVar {
	var out []EnvVar
	walkEnv(reflect.TypeOf(config.Config{}), "", func(key string, _ []int) {
		out = append(out, EnvVar{Name: envName(key), Key: key})
	}, nil)
	out = append(out,
		EnvVar{Name: "KO_DOCKER_REPO", Key: "image.repo", Note: "ko's variable; ko.local means publish: [daemon], kind.local means publish: [kind]; SCRATCHKIT_IMAGE_REPO wins over it"},
		EnvVar{Name: "COSIGN_KEY", Key: "sign.key", Note: "cosign's variable; SCRATCHKIT_SIGN_KEY wins over it"},
		EnvVar{Name: "GOVULNDB", Key: "verify.vulndb", Note: "the vulnerability database variable of govulncheck and the Go vulnerability database documentation (one URL); SCRATCHKIT_VERIFY_VULNDB wins over it"},
	)
	return out
}

// EnvVar is one environment override.
type EnvVar struct{ Name, Key, Note string }

func envName(key string) string {
	return "SCRATCHKIT_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// walkEnv visits every key that can be set from one environment variable: scalars and lists of
// scalars reachable through structs (not through lists of builds or maps of images).
func walkEnv(t reflect.Type, path string, visit func(key string, index []int), index []int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := join(path, yamlName(f))
		idx := append(append([]int(nil), index...), i)
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && !leaf(ft):
			walkEnv(ft, key, visit, idx)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && scalarForms[ft.Elem()] == "",
			ft.Kind() == reflect.Map && ft.Elem().Kind() != reflect.String,
			ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			// builds, smoke.images, pgo.workload: only in files or targets.Configure
		default:
			visit(key, idx)
		}
	}
}

// fromEnv reads KO_DOCKER_REPO, COSIGN_KEY and SCRATCHKIT_* into a layer.
func fromEnv(lookup func(string) (string, bool)) (config.Config, map[string]string, error) {
	var c config.Config
	origins := map[string]string{}
	v := reflect.ValueOf(&c).Elem()
	set := func(name, key string, index []int) error {
		s, ok := lookup(name)
		if !ok || s == "" {
			return nil
		}
		if err := setString(v.FieldByIndex(index), s); err != nil {
			return fmt.Errorf("environment variable %s (%s): %w", name, key, err)
		}
		origins[key] = "environment variable " + name
		return nil
	}
	if err := set("KO_DOCKER_REPO", "image.repo", fieldIndex("Image", "Repo")); err != nil {
		return c, nil, err
	}
	if err := set("COSIGN_KEY", "sign.key", fieldIndex("Sign", "Key")); err != nil {
		return c, nil, err
	}
	if err := set("GOVULNDB", "verify.vulndb", fieldIndex("Verify", "VulnDB")); err != nil {
		return c, nil, err
	}
	var errs []error
	walkEnv(reflect.TypeOf(c), "", func(key string, index []int) {
		if err := set(envName(key), key, index); err != nil {
			errs = append(errs, err)
		}
	}, nil)
	return c, origins, errors.Join(errs...)
}

func fieldIndex(names ...string) []int {
	t := reflect.TypeOf(config.Config{})
	var idx []int
	for _, n := range names {
		f, _ := t.FieldByName(n)
		idx = append(idx, f.Index...)
		t = f.Type
	}
	return idx
}
