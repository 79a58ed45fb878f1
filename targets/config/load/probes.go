package load

import (
	"fmt"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/run"
)

// Probes lists an image's probes in the order the configuration gives them: exit, http, then
// the probes list, each named by its key under smoke.images.<name>.
func Probes(p config.Probes) []run.Probe {
	var out []run.Probe
	add := func(name string, exit *config.ExitProbe, http *config.HTTPProbe) {
		if exit != nil {
			out = append(out, run.Probe{Name: name, Exit: &run.ExitProbe{Args: exit.Args, Output: exit.Output}})
		}
		if http != nil {
			out = append(out, run.Probe{Name: name, HTTP: &run.HTTPProbe{Args: http.Args, Port: http.Port, Path: http.Path, Timeout: http.Timeout.D(),
				Status: http.Status, Body: http.Body, Host: http.Host}})
		}
	}
	add("exit", p.Exit, nil)
	add("http", nil, p.HTTP)
	for i, item := range p.Probes {
		add(fmt.Sprintf("probes[%d]", i), item.Exit, item.HTTP)
	}
	return out
}
