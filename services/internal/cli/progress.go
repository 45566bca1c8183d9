package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows on stderr that a command is waiting: a spinner with the
// elapsed time when stderr is a terminal, and one line per intermediate
// fact (sync.started while waiting for the job's end) either way.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	start time.Time

	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, tty: isTerminal(w), label: label, start: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	if !p.tty {
		fmt.Fprintf(w, "%s…\n", label)
		close(p.done)
		return p
	}
	go p.spin()
	return p
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (p *progress) spin() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		p.mu.Lock()
		fmt.Fprintf(p.w, "\r\033[K%s %s %s", spinnerFrames[i%len(spinnerFrames)], p.label, time.Since(p.start).Round(100*time.Millisecond))
		p.mu.Unlock()
		select {
		case <-p.stop:
			p.mu.Lock()
			fmt.Fprint(p.w, "\r\033[K")
			p.mu.Unlock()
			return
		case <-t.C:
		}
	}
}

// note prints an intermediate fact on its own line.
func (p *progress) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "  %s  %s\n", time.Since(p.start).Round(100*time.Millisecond), fmt.Sprintf(format, args...))
}

// finish stops the spinner.
func (p *progress) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
