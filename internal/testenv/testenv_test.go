package testenv

import (
	"net/http"
	"testing"
)

func TestRegistryAuth(t *testing.T) {
	r := StartRegistry(t, RegistryOptions{User: "alice", Password: "s3cret"})
	resp, err := http.Get("http://" + r.Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous /v2/: got %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+r.Host+"/v2/", nil)
	req.SetBasicAuth("alice", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authenticated /v2/: got %d, want 200", resp.StatusCode)
	}
}
