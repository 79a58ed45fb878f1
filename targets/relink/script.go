package relink

import (
	"bufio"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// A script is what `go build -n` prints: the files it would write (importcfg, embedcfg, each a
// heredoc) and the tool commands it would run, in order.
type script struct {
	files map[string][]string // by path as printed ($WORK/b001/importcfg), their lines
	cmds  []command
}

// A command is one tool run: where, with what environment, and its argv (tool first).
type command struct {
	dir  string
	env  []string
	argv []string
}

func (c command) tool() string { return filepath.Base(c.argv[0]) }

// flag is the value of "-name value" or "-name=value" in c's argv, and whether it is there.
func (c command) flag(name string) (string, bool) {
	for i, a := range c.argv {
		if a == name && i+1 < len(c.argv) {
			return c.argv[i+1], true
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

var (
	heredoc = regexp.MustCompile(`^cat >(\S+) << 'EOF'( # internal)?$`)
	// a one-line file: echo '# import config' > $WORK/b002/importcfg # internal
	echoFile = regexp.MustCompile(`^echo '([^']*)' > (\S+)( # internal)?$`)
	envWord  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
)

// The lines of a script that run no tool: the go command does their work itself.
var skipped = []string{"mkdir ", "mv ", "cp ", "rm ", "touch ", "go tool buildid ", "ln "}

// parseScript reads go build -n's output. dir is where the go command ran: a "cd ." means it.
func parseScript(out, dir string) (*script, error) {
	s := &script{files: map[string][]string{}}
	cwd := dir
	var doc string // the heredoc being read
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20) // a modinfo line holds every dependency
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if doc != "" {
			if line == "EOF" {
				doc = ""
				continue
			}
			s.files[doc] = append(s.files[doc], line)
			continue
		}
		if m := heredoc.FindStringSubmatch(line); m != nil {
			doc = m[1]
			s.files[doc] = []string{}
			continue
		}
		if m := echoFile.FindStringSubmatch(line); m != nil {
			s.files[m[2]] = []string{m[1]}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "echo ") {
			continue
		}
		if d, ok := strings.CutPrefix(line, "cd "); ok {
			if d == "." {
				cwd = dir
			} else {
				cwd = d
			}
			continue
		}
		skip := false
		for _, p := range skipped {
			if strings.HasPrefix(line, p) {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		words, err := splitWords(line)
		if err != nil {
			return nil, fmt.Errorf("go build -n, line %d: %w", n, err)
		}
		c := command{dir: cwd}
		for len(words) > 0 && envWord.MatchString(words[0]) {
			c.env = append(c.env, words[0])
			words = words[1:]
		}
		if len(words) == 0 {
			continue
		}
		c.argv = words
		s.cmds = append(s.cmds, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("go build -n: %w", err)
	}
	if doc != "" {
		return nil, fmt.Errorf("go build -n: %s is not closed by EOF", doc)
	}
	return s, nil
}

// splitWords splits a command line as the go command prints it: words separated by spaces,
// each bare, double-quoted with Go's escapes (strconv.Quote), or, in an environment
// assignment's value, single-quoted.
func splitWords(line string) ([]string, error) {
	var words []string
	i := 0
	for i < len(line) {
		if line[i] == ' ' {
			i++
			continue
		}
		var w strings.Builder
		for i < len(line) && line[i] != ' ' {
			switch line[i] {
			case '"':
				q, err := strconv.QuotedPrefix(line[i:])
				if err != nil {
					return nil, fmt.Errorf("bad quoting at %q", line[i:])
				}
				u, _ := strconv.Unquote(q)
				w.WriteString(u)
				i += len(q)
			case '\'':
				end := strings.IndexByte(line[i+1:], '\'')
				if end < 0 {
					return nil, fmt.Errorf("unclosed quote at %q", line[i:])
				}
				w.WriteString(line[i+1 : i+1+end])
				i += end + 2
			default:
				w.WriteByte(line[i])
				i++
			}
		}
		words = append(words, w.String())
	}
	return words, nil
}
