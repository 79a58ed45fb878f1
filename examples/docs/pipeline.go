package main

import "strconv"

// Kind is a token's kind.
type Kind uint8

// Token kinds.
const (
	KindIdent Kind = iota
	KindNumber
	KindString
	KindPunct
	KindEnd
)

// Token is one lexeme of a document; Text aliases the document or a transform's scratch.
type Token struct {
	Kind Kind
	Text []byte
}

// Lexer yields a document's tokens.
type Lexer interface {
	Next() Token
}

// Transform rewrites a value token; it may reuse scratch.
type Transform interface {
	Apply(t Token, scratch []byte) (Token, []byte)
}

// Sink receives the encoded output byte by byte.
type Sink interface {
	WriteByte(c byte) error
}

// lexer splits "name: value, name: 12, name: \"text\"\n" lines into tokens.
type lexer struct {
	src []byte
	pos int
}

func (l *lexer) Next() Token {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t') {
		l.pos++
	}
	if l.pos >= len(l.src) {
		return Token{Kind: KindEnd}
	}
	start := l.pos
	switch c := l.src[l.pos]; classOf(c) {
	case classLetter:
		for l.pos < len(l.src) && (classOf(l.src[l.pos]) == classLetter || classOf(l.src[l.pos]) == classDigit) {
			l.pos++
		}
		return Token{Kind: KindIdent, Text: l.src[start:l.pos]}
	case classDigit:
		for l.pos < len(l.src) && (classOf(l.src[l.pos]) == classDigit || l.src[l.pos] == '.') {
			l.pos++
		}
		return Token{Kind: KindNumber, Text: l.src[start:l.pos]}
	case classQuote:
		l.pos++
		for l.pos < len(l.src) && l.src[l.pos] != '"' {
			if l.src[l.pos] == '\\' {
				l.pos++
			}
			l.pos++
		}
		l.pos = min(l.pos+1, len(l.src))
		return Token{Kind: KindString, Text: l.src[start+1 : l.pos-1]}
	default:
		l.pos++
		return Token{Kind: KindPunct, Text: l.src[start:l.pos]}
	}
}

type class uint8

const (
	classOther class = iota
	classLetter
	classDigit
	classQuote
	classSpace
)

// classOf is a byte's lexical class: a switch a little over the inliner's normal budget, so only
// a profile that shows it hot gets it inlined into the lexer's loops.
func classOf(c byte) class {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return classLetter
	case c >= '0' && c <= '9':
		return classDigit
	case c == '"':
		return classQuote
	case c == ' ', c == '\t', c == '\r', c == '\n':
		return classSpace
	case c == '-', c == '+', c == '.', c == ',', c == ':', c == ';', c == '!', c == '?':
		return classOther
	case c == '(', c == ')', c == '[', c == ']', c == '{', c == '}', c == '<', c == '>':
		return classOther
	case c >= 0xc0 && c <= 0xd6, c >= 0xd8 && c <= 0xf6, c >= 0xf8:
		return classLetter // Latin-1 letters
	case c >= 0x80:
		return classOther
	}
	return classOther
}

// lower lowercases identifiers and strings.
type lower struct{}

func (lower) Apply(t Token, scratch []byte) (Token, []byte) {
	if t.Kind == KindNumber {
		return t, scratch
	}
	start := len(scratch)
	for _, c := range t.Text {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		scratch = append(scratch, c)
	}
	return Token{Kind: t.Kind, Text: scratch[start:]}, scratch
}

// maskDigits replaces the digits of strings that look like account numbers.
type maskDigits struct{ keep int }

func (m maskDigits) Apply(t Token, scratch []byte) (Token, []byte) {
	if t.Kind != KindString {
		return t, scratch
	}
	digits := 0
	for _, c := range t.Text {
		if classOf(c) == classDigit {
			digits++
		}
	}
	if digits < 6 {
		return t, scratch
	}
	start := len(scratch)
	seen := 0
	for _, c := range t.Text {
		if classOf(c) == classDigit {
			seen++
			if seen <= digits-m.keep {
				c = '*'
			}
		}
		scratch = append(scratch, c)
	}
	return Token{Kind: t.Kind, Text: scratch[start:]}, scratch
}

// scale multiplies numbers by a factor, as an integer when they are one.
type scale struct{ by int64 }

func (s scale) Apply(t Token, scratch []byte) (Token, []byte) {
	if t.Kind != KindNumber {
		return t, scratch
	}
	var n int64
	for _, c := range t.Text {
		if c == '.' {
			return t, scratch
		}
		n = n*10 + int64(c-'0')
	}
	start := len(scratch)
	scratch = strconv.AppendInt(scratch, n*s.by, 10)
	return Token{Kind: KindNumber, Text: scratch[start:]}, scratch
}

// trimPunct drops leading and trailing punctuation of strings.
type trimPunct struct{}

func (trimPunct) Apply(t Token, scratch []byte) (Token, []byte) {
	b := t.Text
	for len(b) > 0 && classOf(b[0]) == classOther {
		b = b[1:]
	}
	for len(b) > 0 && classOf(b[len(b)-1]) == classOther {
		b = b[:len(b)-1]
	}
	return Token{Kind: t.Kind, Text: b}, scratch
}

var defaultChain = []Transform{trimPunct{}, lower{}, maskDigits{keep: 4}, scale{by: 100}}

// buffer is the Sink the handler encodes into.
type buffer struct{ b []byte }

func (b *buffer) WriteByte(c byte) error {
	b.b = append(b.b, c)
	return nil
}

// sum is an FNV-1a hash of what was written: the response names it instead of sending it all.
func (b *buffer) sum() uint32 {
	h := uint32(2166136261)
	for _, c := range b.b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// writeString encodes s as a JSON string, byte by byte through the Sink.
func writeString(s Sink, text []byte) {
	s.WriteByte('"')
	for _, c := range text {
		switch {
		case c == '"' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c < 0x20:
			for _, e := range []byte{'\\', 'u', '0', '0', hex[c>>4], hex[c&15]} {
				s.WriteByte(e)
			}
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte('"')
}

const hex = "0123456789abcdef"

// Field is one "name: value" pair of a record as the lexer read it.
type Field struct {
	Name, Value Token
	Offset      int  // where the value starts in the document, for messages
	Last        bool // the record's last field
}

// field reads the next "name: value" pair, the separator after it included; nil at the end. It
// returns a fresh Field, as a decoder does: on the heap, unless the call is inlined (too big for
// the compiler's normal budget, inlined when a profile shows the call hot) and escape analysis
// then keeps it on the caller's stack.
func (l *lexer) field() *Field {
	var name, value Token
	const (
		wantName = iota
		wantColon
		wantValue
		wantSep
	)
	state, last := wantName, false
scan:
	for {
		t := l.Next() // one call site: the state machine keeps field small enough to inline when hot
		switch {
		case t.Kind == KindEnd:
			if state != wantSep {
				return nil
			}
			last = true
			break scan
		case state == wantName && t.Kind != KindPunct:
			name, state = t, wantColon
		case state == wantColon && t.Kind == KindPunct && t.Text[0] == ':':
			state = wantValue
		case state == wantColon:
			state = wantName // not a pair: start again
		case state == wantValue:
			value, state = t, wantSep
		case state == wantSep:
			last = t.Kind == KindPunct && t.Text[0] == '\n'
			break scan
		}
	}
	return &Field{Name: name, Value: value, Offset: l.pos - len(value.Text), Last: last}
}

// transform lexes doc ("name: value, …" lines), runs each value through chain and writes one
// JSON object per line into out.
func transform(doc []byte, chain []Transform, out Sink) {
	lx := &lexer{src: doc}
	var scratch []byte
	open := false
	for {
		f := lx.field()
		if f == nil {
			break
		}
		t := f.Value
		scratch = scratch[:0]
		for _, tr := range chain {
			t, scratch = tr.Apply(t, scratch)
		}
		if !open {
			out.WriteByte('{')
			open = true
		} else {
			out.WriteByte(',')
		}
		writeString(out, f.Name.Text)
		out.WriteByte(':')
		if t.Kind == KindNumber {
			for _, c := range t.Text {
				out.WriteByte(c)
			}
		} else {
			writeString(out, t.Text)
		}
		if f.Last {
			out.WriteByte('}')
			out.WriteByte('\n')
			open = false
		}
	}
	if open {
		out.WriteByte('}')
		out.WriteByte('\n')
	}
}

// makeCorpus is n documents of a few dozen records each, the same every run.
func makeCorpus(n int) [][]byte {
	words := []string{"Alpha", "Bravo", "charlie", "DELTA", "echo", "Foxtrot", "golf", "Hotel", "india", "Juliett"}
	docs := make([][]byte, n)
	seed := uint32(1)
	next := func() uint32 {
		seed = seed*1664525 + 1013904223
		return seed >> 8
	}
	for i := range docs {
		var b []byte
		for r := 0; r < 40; r++ {
			b = append(b, "id: "...)
			b = strconv.AppendInt(b, int64(next()%100000), 10)
			b = append(b, ", name: \""...)
			b = append(b, words[next()%10]...)
			b = append(b, ' ')
			b = append(b, words[next()%10]...)
			b = append(b, "\", account: \"DE"...)
			b = strconv.AppendInt(b, int64(next()), 10)
			b = strconv.AppendInt(b, int64(next()), 10)
			b = append(b, "\", amount: "...)
			b = strconv.AppendInt(b, int64(next()%10000), 10)
			b = append(b, ", note: \"..."...)
			for w := 0; w < 6; w++ {
				b = append(b, words[next()%10]...)
				b = append(b, ' ')
			}
			b = append(b, "!\"\n"...)
		}
		docs[i] = b
	}
	return docs
}
