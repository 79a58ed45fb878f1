package load

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/scratchkit/scratchkit/targets/config"
	"go.yaml.in/yaml/v3"
)

// koFile is the part of ko's .ko.yaml a ko user already has. Keys ko knows but scratchkit does not
// use are accepted with a warning; keys ko does not know either are errors.
type koFile struct {
	DefaultBaseImage   string            `yaml:"defaultBaseImage"`
	BaseImageOverrides map[string]string `yaml:"baseImageOverrides"`
	DefaultPlatforms   []string          `yaml:"defaultPlatforms"`
	DefaultEnv         []string          `yaml:"defaultEnv"`
	DefaultFlags       []string          `yaml:"defaultFlags"`
	DefaultLdflags     []string          `yaml:"defaultLdflags"`
	Builds             []koBuild         `yaml:"builds"`
}

type koBuild struct {
	ID                string   `yaml:"id"`
	Dir               string   `yaml:"dir"`
	Main              string   `yaml:"main"`
	Env               []string `yaml:"env"`
	Flags             []string `yaml:"flags"`
	Ldflags           []string `yaml:"ldflags"`
	LinuxCapabilities []string `yaml:"linux_capabilities"`
}

// loadKo maps .ko.yaml onto a Config layer.
func loadKo(name string, data []byte) (config.Config, map[string]string, []string, error) {
	var c config.Config
	var warns []string
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return c, nil, nil, fmt.Errorf("%s: %s", name, yamlMessage(name, err))
	}
	if len(doc.Content) == 0 {
		return c, map[string]string{}, nil, nil
	}
	koOrigins := map[string]string{}
	errs, err := checkKeys(doc.Content[0], reflect.TypeOf(koFile{}), name, koOrigins)
	if err != nil {
		return c, nil, nil, err
	}
	if len(errs) > 0 {
		return c, nil, nil, errors.Join(errs...)
	}
	var k koFile
	if err := doc.Content[0].Decode(&k); err != nil {
		return c, nil, nil, errors.New(yamlMessage(name, err))
	}
	origins := map[string]string{}
	if k.DefaultBaseImage != "" {
		c.Image.Base = k.DefaultBaseImage
		origins["image.base"] = koOrigins["defaultBaseImage"]
	}
	if len(k.DefaultPlatforms) > 0 {
		if len(k.DefaultPlatforms) == 1 && k.DefaultPlatforms[0] == "all" {
			return c, nil, nil, fmt.Errorf("%s: defaultPlatforms: \"all\" (every platform of the base) is not supported; list the platforms, e.g. [linux/amd64, linux/arm64]", koOrigins["defaultPlatforms"])
		}
		c.Platforms = k.DefaultPlatforms
		origins["platforms"] = koOrigins["defaultPlatforms"]
	}
	if len(k.BaseImageOverrides) > 0 {
		warns = append(warns, fmt.Sprintf("%s: baseImageOverrides is ignored: scratchkit uses one base (image.base) for every image", koOrigins["baseImageOverrides"]))
	}
	for i, kb := range k.Builds {
		kp := fmt.Sprintf("builds[%d]", i)
		b := config.Build{Main: kb.Main, Dir: kb.Dir}
		b.Env = append(append([]string(nil), k.DefaultEnv...), kb.Env...)
		b.Ldflags = append(append([]string(nil), k.DefaultLdflags...), kb.Ldflags...)
		flags, tags := koFlags(append(append([]string(nil), k.DefaultFlags...), kb.Flags...))
		b.Flags, b.Tags = flags, tags
		if len(kb.LinuxCapabilities) > 0 {
			warns = append(warns, fmt.Sprintf("%s: %s.linux_capabilities is ignored: scratchkit images run as non-root without added capabilities", koOrigins[kp+".linux_capabilities"], kp))
		}
		c.Builds = append(c.Builds, b)
		for key, o := range koOrigins {
			if under(key, kp) {
				origins[key] = o
			}
		}
	}
	return c, origins, warns, nil
}

// koFlags splits ko-style build flags into plain flags and build tags: ko users write
// ["-tags", "netgo"] or "-tags=netgo", and ko adds -trimpath itself, as scratchkit does.
func koFlags(in []string) (flags, tags []string) {
	for i := 0; i < len(in); i++ {
		f := in[i]
		switch {
		case f == "-trimpath" || f == "--trimpath":
		case f == "-tags" || f == "--tags":
			if i+1 < len(in) {
				tags = append(tags, strings.Split(in[i+1], ",")...)
				i++
			}
		case strings.HasPrefix(f, "-tags=") || strings.HasPrefix(f, "--tags="):
			_, v, _ := strings.Cut(f, "=")
			tags = append(tags, strings.Split(v, ",")...)
		default:
			flags = append(flags, f)
		}
	}
	return flags, tags
}
