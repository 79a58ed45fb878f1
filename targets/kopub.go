package targets

import (
	"context"
	"fmt"

	"github.com/scratchkit/scratchkit/targets/internal/stage"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/publish/kopub"
)

// koPublishers gives the Image stage ko's daemon (ko.local) and kind (kind.local) publishers.
func koPublishers(e *stage.Env, destination string) (publish.Publisher, error) {
	switch destination {
	case publish.Daemon:
		return kopub.NewDaemon(kopub.DaemonOptions{Tags: e.Image.Tags}), nil
	case publish.Kind:
		k := kopub.NewKind(kopub.KindOptions{Tags: e.Image.Tags})
		if err := k.Check(); err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, fmt.Errorf("unknown destination %q", destination)
}

// image is the Image stage with every publisher; unexported so mage does not list it.
func image(ctx context.Context) error {
	if err := stage.Deps(ctx, stage.Verify); err != nil {
		return err
	}
	return stage.Image(ctx, koPublishers)
}
