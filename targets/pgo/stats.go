package pgo

import (
	"math"
	"sort"
)

// Ratio summarises paired ratios (B/A, one per round): their geometric mean, their range, and a
// 95 % confidence interval of the geometric mean (Student's t on the logarithms). The geometric
// mean is the right average of ratios, and with the slots alternating every round a constant
// bias of one slot cancels out of it.
type Ratio struct {
	Mean float64 `json:"mean"` // geometric mean
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Lo   float64 `json:"lo"` // 95 % confidence interval of Mean; Min and Max for fewer than 2 rounds
	Hi   float64 `json:"hi"`
	N    int     `json:"rounds"`
}

// RatioOf summarises ratios; non-positive and non-finite values are left out (a round without
// operations has no ratio).
func RatioOf(ratios []float64) Ratio {
	var logs []float64
	for _, r := range ratios {
		if r > 0 && !math.IsInf(r, 0) && !math.IsNaN(r) {
			logs = append(logs, math.Log(r))
		}
	}
	n := len(logs)
	if n == 0 {
		return Ratio{}
	}
	sort.Float64s(logs)
	var sum float64
	for _, l := range logs {
		sum += l
	}
	mean := sum / float64(n)
	out := Ratio{Mean: math.Exp(mean), Min: math.Exp(logs[0]), Max: math.Exp(logs[n-1]), N: n}
	if n < 2 {
		out.Lo, out.Hi = out.Min, out.Max
		return out
	}
	var ss float64
	for _, l := range logs {
		ss += (l - mean) * (l - mean)
	}
	half := tCritical(n-1) * math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
	out.Lo, out.Hi = math.Exp(mean-half), math.Exp(mean+half)
	return out
}

// halfWidth is half the confidence interval's width in log space.
func (r Ratio) halfWidth() float64 {
	if r.Lo <= 0 || r.Hi <= 0 {
		return math.Inf(1)
	}
	return (math.Log(r.Hi) - math.Log(r.Lo)) / 2
}

// tCritical is the two-sided 95 % quantile of Student's t with df degrees of freedom.
func tCritical(df int) float64 {
	table := [...]float64{0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	switch {
	case df < 1:
		return math.Inf(1)
	case df < len(table):
		return table[df]
	case df < 60:
		return 2.000
	case df < 120:
		return 1.980
	}
	return 1.960
}

// Precision is what an A/A run (the same binary in both slots) says the method resolves on this
// machine, as a fraction (0.02: ±2 %): how far its geometric mean landed from 1 plus the half
// width of its confidence interval, in log space. A difference smaller than that is
// indistinguishable from running the same binary twice. Infinite for fewer than 2 rounds.
func Precision(aa Ratio) float64 {
	if aa.N < 2 || aa.Mean <= 0 {
		return math.Inf(1)
	}
	return math.Expm1(math.Abs(math.Log(aa.Mean)) + aa.halfWidth())
}

// Verdict is what a ratio of a cost (lower is better: CPU per operation) says.
type Verdict string

// Verdicts.
const (
	VerdictGain Verdict = "gain" // measurably cheaper
	VerdictLoss Verdict = "loss" // measurably more expensive
	VerdictNone Verdict = "no measurable difference"
)

// Judge compares the cost ratio r (B/A) with the A/A precision measured in the same run: B is a
// gain when its geometric mean is below 1 by more than the precision and its whole confidence
// interval lies below 1; a loss in the mirror case; otherwise no measurable difference.
func Judge(r Ratio, precision float64) Verdict {
	if r.N < 2 || r.Mean <= 0 || math.IsNaN(precision) {
		return VerdictNone
	}
	d, eps := math.Log(r.Mean), math.Log1p(precision)
	switch {
	case d < -eps && r.Hi < 1:
		return VerdictGain
	case d > eps && r.Lo > 1:
		return VerdictLoss
	}
	return VerdictNone
}

// median of v (0 for none).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
