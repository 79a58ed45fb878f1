package pgo

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestRatioOfGeometricMean(t *testing.T) {
	// 0.5 and 2 average to 1 geometrically (1.25 arithmetically).
	r := RatioOf([]float64{0.5, 2})
	if !near(r.Mean, 1, 1e-12) || r.Min != 0.5 || r.Max != 2 || r.N != 2 {
		t.Fatalf("got %+v", r)
	}
	// A constant slot bias cancels: rounds alternate slots, so a 4 % bias multiplies one round
	// and divides the next.
	var v []float64
	for i := 0; i < 10; i++ {
		bias := 1.04
		if i%2 == 1 {
			bias = 1 / 1.04
		}
		v = append(v, 0.9*bias)
	}
	if r := RatioOf(v); !near(r.Mean, 0.9, 1e-12) {
		t.Fatalf("slot bias did not cancel: %v", r.Mean)
	}
}

func TestRatioOfConfidenceInterval(t *testing.T) {
	// Logs ±d around ln(0.9): sample sd = d*sqrt(n/(n-1)), half width t*sd/sqrt(n).
	d := 0.02
	var v []float64
	for i := 0; i < 6; i++ {
		s := d
		if i%2 == 1 {
			s = -d
		}
		v = append(v, 0.9*math.Exp(s))
	}
	r := RatioOf(v)
	half := 2.571 * d * math.Sqrt(6.0/5.0) / math.Sqrt(6)
	if !near(math.Log(r.Hi)-math.Log(r.Mean), half, 1e-9) || !near(math.Log(r.Mean)-math.Log(r.Lo), half, 1e-9) {
		t.Fatalf("interval %v–%v around %v, want half width %v", r.Lo, r.Hi, r.Mean, half)
	}
	if r := RatioOf([]float64{1.1}); r.Lo != 1.1 || r.Hi != 1.1 || r.N != 1 {
		t.Fatalf("one round: %+v", r)
	}
	if r := RatioOf([]float64{0, math.NaN(), math.Inf(1), 1}); r.N != 1 {
		t.Fatalf("bad values were counted: %+v", r)
	}
	if r := RatioOf(nil); r.N != 0 || r.Mean != 0 {
		t.Fatalf("none: %+v", r)
	}
}

func TestPrecision(t *testing.T) {
	aa := RatioOf([]float64{1.01, 0.99, 1.01, 0.99})
	p := Precision(aa)
	want := math.Expm1(aa.halfWidth() + math.Abs(math.Log(aa.Mean)))
	if !near(p, want, 1e-12) || p <= 0 || p > 0.05 {
		t.Fatalf("precision %v, want %v", p, want)
	}
	// A biased A/A run (mean off 1) is less precise than a centred one of the same spread.
	biased := RatioOf([]float64{1.03, 1.01, 1.03, 1.01})
	if Precision(biased) <= p {
		t.Fatalf("bias did not widen the precision: %v <= %v", Precision(biased), p)
	}
	if !math.IsInf(Precision(RatioOf([]float64{1})), 1) {
		t.Fatal("one A/A round gave a finite precision")
	}
}

func TestJudge(t *testing.T) {
	aa := RatioOf([]float64{1.01, 0.99, 1.01, 0.99, 1.005, 0.995}) // about ±1.1 %
	prec := Precision(aa)
	cases := []struct {
		name   string
		ratios []float64
		want   Verdict
	}{
		{"clear gain", []float64{0.90, 0.91, 0.89, 0.90, 0.92, 0.90}, VerdictGain},
		{"clear loss", []float64{1.10, 1.09, 1.11, 1.10, 1.12, 1.10}, VerdictLoss},
		{"inside the precision", []float64{0.995, 0.99, 1.0, 0.995, 0.99, 1.0}, VerdictNone},
		{"mean beyond precision, interval reaches 1", []float64{0.80, 1.05, 0.85, 1.02, 0.90, 1.04}, VerdictNone},
		{"one round", []float64{0.5}, VerdictNone},
	}
	for _, c := range cases {
		if got := Judge(RatioOf(c.ratios), prec); got != c.want {
			t.Errorf("%s: %s, want %s (ratio %+v, precision %.4f)", c.name, got, c.want, RatioOf(c.ratios), prec)
		}
	}
	// A gain that would count on a quiet machine is none on a noisy one.
	gain := RatioOf([]float64{0.97, 0.975, 0.97, 0.965, 0.97, 0.975})
	if Judge(gain, prec) != VerdictGain {
		t.Errorf("3 %% gain, ±1 %% precision: %s", Judge(gain, prec))
	}
	if Judge(gain, 0.05) != VerdictNone {
		t.Errorf("3 %% gain, ±5 %% precision: %s", Judge(gain, 0.05))
	}
	if Judge(gain, math.Inf(1)) != VerdictNone {
		t.Errorf("no precision: %s", Judge(gain, math.Inf(1)))
	}
}

func TestMedian(t *testing.T) {
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 2, 3}) != 2.5 || median(nil) != 0 {
		t.Fatal("median")
	}
}
