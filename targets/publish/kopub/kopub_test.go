package kopub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/publish/internal/testimage"
	"github.com/scratchkit/scratchkit/targets/publish/kopub"
)

// TestMain removes the binaries testimage built.
func TestMain(m *testing.M) { testenv.Main(m) }

func TestDaemonLoadsHostImageOfIndex(t *testing.T) {
	docker := testenv.Docker(t)
	version := fmt.Sprintf("d%d", time.Now().UnixNano())
	n := "hello-daemon-" + version
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	// The host's image second: ko itself would take linux/amd64 whatever the host.
	host := testimage.Hello(t, runtime.GOARCH, version)
	idx := testimage.Index(t, testimage.Hello(t, other, version), host)

	p := kopub.NewDaemon(kopub.DaemonOptions{Tags: []string{"latest", "v1"}})
	res, err := p.Publish(context.Background(), publish.Artifact{Name: n, Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := host.Digest()
	t.Cleanup(func() {
		testenv.Output(docker, "rmi", "-f", res.Ref, "ko.local/"+n+":latest", "ko.local/"+n+":v1")
	})
	if res.Ref != "ko.local/"+n+":"+want.Hex || res.Digest != want || res.Destination != "daemon" {
		t.Errorf("result %s (%s, %s), want ko.local/%s:%s", res.Ref, res.Digest, res.Destination, n, want.Hex)
	}
	if strings.Join(res.Tags, " ") != "ko.local/"+n+":latest ko.local/"+n+":v1" {
		t.Errorf("tags %v", res.Tags)
	}

	// docker sees one image under the digest tag and both tags, for the host's architecture.
	out := testenv.Run(t, docker, "image", "inspect", res.Ref, "ko.local/"+n+":latest", "ko.local/"+n+":v1")
	var infos []struct {
		ID           string
		Architecture string
		Os           string
	}
	if err := json.Unmarshal([]byte(out), &infos); err != nil {
		t.Fatalf("docker image inspect: %v\n%s", err, out)
	}
	cfg, _ := host.ConfigName()
	for _, i := range infos {
		if i.ID != cfg.String() || i.Architecture != runtime.GOARCH || i.Os != "linux" {
			t.Errorf("docker holds %s (%s/%s), want image %s for linux/%s", i.ID, i.Os, i.Architecture, cfg, runtime.GOARCH)
		}
	}
	got := testenv.Run(t, docker, "run", "--rm", "--network", "none", "ko.local/"+n+":v1", "-version")
	if strings.TrimSpace(got) != "hello "+version {
		t.Errorf("docker run printed %q, want %q", got, "hello "+version)
	}
}

func TestKindWithoutClusterSaysSo(t *testing.T) {
	testenv.Docker(t) // kind looks for its nodes through docker
	t.Setenv("KIND_CLUSTER_NAME", fmt.Sprintf("scratchkit-none-%d", time.Now().UnixNano()))
	k := kopub.NewKind(kopub.KindOptions{})
	img := testimage.Image(t, runtime.GOARCH, map[string][]byte{"a": []byte("a")}, nil)
	_, err := k.Publish(context.Background(), publish.Artifact{Name: "app", Image: img})
	if err == nil {
		t.Fatal("publishing to a kind cluster that does not exist succeeded")
	}
	t.Log(err)
	if want := `no kind cluster "` + k.Cluster() + `" is running: create it with ` + "`kind create cluster --name " + k.Cluster() + "`"; !strings.Contains(err.Error(), want) {
		t.Errorf("unclear error:\n%v\nwant it to say %q", err, want)
	}
}
