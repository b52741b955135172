package bench

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotData is what the plots are drawn from (raw latencies stay out of the JSON).
type plotData struct {
	throughput []series
	latency    []latencySeries
}

type series struct {
	name  string
	steps []Step
}

type latencySeries struct {
	name string
	lat  []time.Duration
}

// Render renders the Markdown and the plots of a run.
func (r *runner) Render() (*Rendered, error) {
	out := &Rendered{Markdown: Markdown(r.res), Plots: map[string][]byte{}}
	// The Markdown is rendered again below if a plot fails, so that it lists the error.
	var errs []error
	if len(r.plots.throughput) > 0 {
		b, err := throughputPlot(r.plots.throughput)
		errs = append(errs, err)
		out.Plots["throughput"] = b
	}
	if len(r.plots.latency) > 0 {
		b, err := latencyPlot(r.plots.latency)
		errs = append(errs, err)
		out.Plots["latency"] = b
	}
	for _, e := range errs {
		if e != nil {
			return out, e
		}
	}
	return out, nil
}

// throughputPlot draws accepted rate against offered rate for each target.
func throughputPlot(ss []series) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Accepted vs offered rate (1 KiB CloudEvents, open loop)"
	p.X.Label.Text = "offered events/s"
	p.Y.Label.Text = "accepted events/s"
	var maxX float64
	var args []any
	for _, s := range ss {
		xys := make(plotter.XYs, len(s.steps))
		for i, st := range s.steps {
			xys[i] = plotter.XY{X: float64(st.Offered), Y: st.AcceptedPerSec}
			maxX = math.Max(maxX, float64(st.Offered))
		}
		args = append(args, s.name, xys)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	ideal, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: maxX, Y: maxX}})
	if err != nil {
		return nil, err
	}
	ideal.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(ideal)
	p.Legend.Add("offered", ideal)
	return render(p)
}

// latencyPlot draws latency percentiles on a "nines" axis.
func latencyPlot(ls []latencySeries) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Latency by percentile"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Tick.Marker = ninesTicks{}
	var args []any
	for _, l := range ls {
		if len(l.lat) == 0 {
			continue
		}
		d := slices.Clone(l.lat)
		slices.Sort(d)
		var xys plotter.XYs
		maxNines := math.Log10(float64(len(d)))
		for x := 0.0; x <= maxNines; x += 0.05 {
			q := 1 - math.Pow(10, -x)
			v := float64(quantile(d, q)) / float64(time.Millisecond)
			xys = append(xys, plotter.XY{X: x, Y: math.Max(v, 0.001)})
		}
		args = append(args, l.name, xys)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("no latency samples")
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return nil, err
	}
	p.Legend.Top, p.Legend.Left = true, true
	return render(p)
}

// ninesTicks labels x = -log10(1-q) as the percentile q.
type ninesTicks struct{}

func (ninesTicks) Ticks(minV, maxV float64) []plot.Tick {
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
	var ts []plot.Tick
	for i := math.Ceil(minV); i <= maxV && int(i) < len(labels); i++ {
		ts = append(ts, plot.Tick{Value: i, Label: labels[int(i)]})
	}
	return ts
}

func render(p *plot.Plot) ([]byte, error) {
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = w.WriteTo(&b)
	return b.Bytes(), err
}
