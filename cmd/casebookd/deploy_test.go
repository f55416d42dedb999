package main_test

// There is no Docker engine on the machines these tests run on, so the
// deployment files are checked for what can be checked without one: the
// compose file against the Compose Specification (its JSON schema and
// loader, from github.com/compose-spec/compose-go), the Dockerfile's user
// and directory ownership by reading it, the ignore files, and the
// healthcheck subcommand the compose file and the image use (in
// TestHealthcheckSubcommand, against a real casebookd).

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	main "github.com/casebook/casebook/cmd/casebookd"
)

// repoFile is the path of a file at the repository's root.
func repoFile(name string) string { return filepath.Join("..", "..", name) }

func TestComposeFileFollowsTheComposeSpecification(t *testing.T) {
	path, err := filepath.Abs(repoFile("docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The loader validates the file against the specification's JSON
	// schema, then checks references (volumes, depends_on) and types.
	project, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(path),
		ConfigFiles: []types.ConfigFile{{Filename: path, Content: raw}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("casebook", true) })
	if err != nil {
		t.Fatalf("docker-compose.yml does not load as a Compose file: %v", err)
	}

	kurrent, err := project.GetService("kurrentdb")
	if err != nil {
		t.Fatal(err)
	}
	image, tag, _ := strings.Cut(kurrent.Image[strings.LastIndex(kurrent.Image, "/")+1:], ":")
	if image != "kurrentdb" || tag == "" || tag == "latest" || tag == "lts" || !strings.ContainsAny(tag, "0123456789") {
		t.Errorf("KurrentDB image %q: want a pinned release tag", kurrent.Image)
	}

	cb, err := project.GetService("casebook")
	if err != nil {
		t.Fatal(err)
	}
	if cb.HealthCheck == nil || len(cb.HealthCheck.Test) < 3 || cb.HealthCheck.Test[0] != "CMD" ||
		!strings.HasSuffix(cb.HealthCheck.Test[1], "/casebookd") || cb.HealthCheck.Test[2] != "healthcheck" {
		t.Errorf("casebook healthcheck %+v: want [CMD …/casebookd healthcheck]", cb.HealthCheck)
	}
	// casebookd drains for up to 20s (--shutdown-timeout) after SIGTERM.
	drain := main.DefaultConfig().ShutdownTimeout
	if cb.StopGracePeriod == nil || time.Duration(*cb.StopGracePeriod) <= drain {
		t.Errorf("stop_grace_period %v: want more than casebookd's %v drain", cb.StopGracePeriod, drain)
	}
	if cb.Environment["CASEBOOK_TOKENS_FILE"] == nil || cb.Environment["CASEBOOK_DATA"] == nil || *cb.Environment["CASEBOOK_DATA"] != "/data" {
		t.Errorf("casebook environment %v", cb.Environment)
	}
	var dataVolume bool
	for _, v := range cb.Volumes {
		if v.Target == "/data" && v.Type == types.VolumeTypeVolume {
			dataVolume = true // a named volume: starts as a copy of the image's /data
		}
	}
	if !dataVolume {
		t.Errorf("casebook volumes %+v: want a named volume on /data", cb.Volumes)
	}
}

// dockerInstruction is one instruction of a Dockerfile.
type dockerInstruction struct {
	Cmd   string            // upper case: FROM, COPY, …
	Flags map[string]string // --from=build → from: build
	Args  []string          // the rest, split on spaces (or the JSON array's items, as written)
	Line  string            // the whole instruction, continuations joined
}

// parseDockerfile reads instructions: comments dropped, lines ending in
// a backslash joined to the next.
func parseDockerfile(t *testing.T, path string) []dockerInstruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dockerInstruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		fields := strings.Fields(line)
		in := dockerInstruction{Cmd: strings.ToUpper(fields[0]), Flags: map[string]string{}, Line: line}
		for _, f := range fields[1:] {
			if name, value, ok := strings.Cut(strings.TrimPrefix(f, "--"), "="); ok && strings.HasPrefix(f, "--") && len(in.Args) == 0 {
				in.Flags[name] = value
				continue
			}
			in.Args = append(in.Args, strings.Trim(f, `[]",`))
		}
		out = append(out, in)
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDockerImageRunsAsNonrootWithAWritableDataDirectory(t *testing.T) {
	ins := parseDockerfile(t, repoFile("Dockerfile"))
	final := -1
	for i, in := range ins {
		if in.Cmd == "FROM" {
			final = i
		}
	}
	if final < 0 || !strings.HasPrefix(ins[final].Args[0], "gcr.io/distroless/") || !strings.HasSuffix(ins[final].Args[0], ":nonroot") {
		t.Fatalf("final stage %+v: want a distroless nonroot image", ins[final])
	}
	build, stage := ins[:final], ins[final:]
	const nonroot = "65532:65532" // distroless' nonroot user and group

	var user, chownData, volume, health, entry bool
	for _, in := range stage {
		switch in.Cmd {
		case "USER":
			user = in.Args[0] == nonroot || in.Args[0] == "nonroot:nonroot"
		case "COPY":
			// The data directory is copied in from the build stage with
			// its mode (0700), owned by nonroot.
			dest := in.Args[len(in.Args)-1]
			if in.Flags["chown"] == nonroot && (dest == "/" || strings.TrimSuffix(dest, "/") == "/data") {
				chownData = true
			}
		case "VOLUME":
			volume = slices.Contains(in.Args, "/data")
		case "HEALTHCHECK":
			health = strings.Contains(in.Line, "/usr/local/bin/casebookd") && strings.Contains(in.Line, "healthcheck")
		case "ENTRYPOINT":
			entry = slices.Contains(in.Args, "/usr/local/bin/casebookd")
		}
	}
	var dataMode bool
	for _, in := range build {
		if in.Cmd == "RUN" && strings.Contains(in.Line, "rootfs/data") && strings.Contains(in.Line, "chmod 0700 /out/rootfs/data") {
			dataMode = true
		}
	}
	for what, ok := range map[string]bool{
		"USER " + nonroot:                              user,
		"COPY --chown=" + nonroot + " of /data":        chownData,
		"the build stage making rootfs/data mode 0700": dataMode,
		"VOLUME /data":                                 volume,
		"HEALTHCHECK casebookd healthcheck":            health,
		"ENTRYPOINT casebookd":                         entry,
	} {
		if !ok {
			t.Errorf("Dockerfile: no %s", what)
		}
	}
	if i := slices.IndexFunc(stage, func(in dockerInstruction) bool { return in.Cmd == "USER" }); i >= 0 {
		if j := slices.IndexFunc(stage, func(in dockerInstruction) bool { return in.Cmd == "COPY" && in.Flags["chown"] != "" }); j > i {
			t.Errorf("Dockerfile: the chown'd COPY comes after USER")
		}
	}
}

func TestIgnoreFilesKeepSecretsAndDataOut(t *testing.T) {
	lines := func(name string) []string {
		b, err := os.ReadFile(repoFile(name))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, strings.Trim(l, "/"))
			}
		}
		return out
	}
	has := func(list []string, names ...string) bool {
		for _, n := range names {
			if slices.Contains(list, n) {
				return true
			}
		}
		return false
	}
	git := lines(".gitignore")
	for _, want := range []string{"bin", "data", "tokens.csv"} {
		if !has(git, want) {
			t.Errorf(".gitignore lacks %s (the README creates it in the repository's root)", want)
		}
	}
	docker := lines(".dockerignore")
	if !has(docker, "tokens.csv", "**/tokens.csv") {
		t.Errorf(".dockerignore sends tokens.csv into the build context")
	}
	for _, want := range []string{".git", "data", "config"} {
		if !has(docker, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}
