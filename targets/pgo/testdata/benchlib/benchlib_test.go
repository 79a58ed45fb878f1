package benchlib

import "testing"

var data = make([]byte, 4096)

func BenchmarkSum(b *testing.B) {
	for range b.N {
		Sum(data, Plain{})
	}
}

func BenchmarkSumShort(b *testing.B) {
	for range b.N {
		Sum(data[:64], Plain{})
	}
}

func BenchmarkOther(b *testing.B) {
	for range b.N {
		_ = len(data)
	}
}
