package main

import "testing"

func TestTransform(t *testing.T) {
	var out buffer
	transform([]byte("id: 42, name: \"Alpha Bravo\", account: \"DE12345678\", amount: 7.5, note: \"...Hi!\"\n"), defaultChain, &out)
	want := `{"id":4200,"name":"alpha bravo","account":"de****5678","amount":7.5,"note":"hi"}` + "\n"
	if string(out.b) != want {
		t.Fatalf("got  %s\nwant %s", out.b, want)
	}
}

func BenchmarkTransform(b *testing.B) {
	corpus := makeCorpus(8)
	var out buffer
	for i := 0; b.Loop(); i++ {
		out.b = out.b[:0]
		transform(corpus[i%len(corpus)], defaultChain, &out)
	}
}
