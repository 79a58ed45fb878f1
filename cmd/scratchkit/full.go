//go:build !scratchkit_core

package main

import (
	"fmt"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/engine"
	"github.com/scratchkit/scratchkit/cmd/scratchkit/engine/signstage"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/publish/kopub"
)

// The full engine: signing (cosign) and ko's daemon (ko.local) and kind (kind.local) publishers.
func init() {
	signing = &signingStages{
		sign:             signstage.Sign,
		signRecorded:     signstage.SignRecorded,
		verifySignatures: signstage.VerifySignatures,
		release:          signstage.Release,
	}
	extra = koPublishers
}

// koPublishers makes the Image stage's daemon and kind publishers.
func koPublishers(e *engine.Run, destination string) (publish.Publisher, error) {
	switch destination {
	case publish.Daemon:
		return kopub.NewDaemon(kopub.DaemonOptions{Tags: e.Config.Image.Tags}), nil
	case publish.Kind:
		k := kopub.NewKind(kopub.KindOptions{Tags: e.Config.Image.Tags})
		if err := k.Check(); err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, fmt.Errorf("unknown destination %q", destination)
}
