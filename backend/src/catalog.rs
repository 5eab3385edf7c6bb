//! The language catalog: which image a room of each language runs, its starter files, its
//! run command, its editor mode and the environment that makes its tools work on a read-only
//! root filesystem. Built-in entries can be extended or overridden by a TOML file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use specta::Type;

/// A file a new room starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct StarterFile {
    /// Relative to `/interview`.
    pub path: String,
    /// Its text.
    pub content: String,
}

/// One language a room can be for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Language {
    /// Catalog id (`python`).
    pub id: String,
    /// Shown to people (`Python`).
    pub name: String,
    /// The image rooms of this language run.
    pub image: String,
    /// What the Run button types into the terminal.
    pub run: String,
    /// The editor's language mode.
    pub mode: String,
    /// Files a new room starts with.
    pub starter: Vec<StarterFile>,
    /// Extra environment (`KEY=value`), e.g. caches moved to writable places.
    pub env: Vec<String>,
}

/// What a catalog file may say about an entry: every field optional, so an override names
/// only what it changes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguagePatch {
    name: Option<String>,
    image: Option<String>,
    run: Option<String>,
    mode: Option<String>,
    starter: Option<Vec<StarterFile>>,
    env: Option<Vec<String>>,
}

/// A problem found in a catalog file, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
pub struct CatalogProblem {
    /// 1-based line in the file, when known.
    pub line: Option<u32>,
    /// What is wrong.
    pub message: String,
}

/// The languages, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    languages: BTreeMap<String, Language>,
    /// Problems in the catalog file; the entries without problems still loaded.
    pub problems: Vec<CatalogProblem>,
}

// One call per language keeps the built-in table readable as a table.
#[allow(clippy::too_many_arguments)]
fn lang(
    id: &str,
    name: &str,
    image: &str,
    run: &str,
    mode: &str,
    file: &str,
    content: &str,
    env: &[&str],
) -> Language {
    Language {
        id: id.into(),
        name: name.into(),
        image: image.into(),
        run: run.into(),
        mode: mode.into(),
        starter: vec![StarterFile {
            path: file.into(),
            content: content.into(),
        }],
        env: env.iter().map(|s| s.to_string()).collect(),
    }
}

/// The built-in languages, each on its official image.
pub fn builtin() -> Vec<Language> {
    vec![
        lang("python", "Python", "python:3.12-slim", "python3 main.py", "python", "main.py",
            "def main():\n    print(\"Hello, interview!\")\n\n\nif __name__ == \"__main__\":\n    main()\n",
            &["PYTHONDONTWRITEBYTECODE=1", "PIP_CACHE_DIR=/tmp/pip-cache", "PYTHONUSERBASE=/home/candidate/.local"]),
        lang("javascript", "JavaScript", "node:22-slim", "node main.js", "javascript", "main.js",
            "function main() {\n  console.log('Hello, interview!');\n}\n\nmain();\n",
            &["NPM_CONFIG_CACHE=/tmp/npm-cache"]),
        lang("typescript", "TypeScript", "node:22-slim", "node --experimental-strip-types main.ts", "typescript", "main.ts",
            "function greet(name: string): string {\n  return `Hello, ${name}!`;\n}\n\nconsole.log(greet('interview'));\n",
            &["NPM_CONFIG_CACHE=/tmp/npm-cache", "NODE_NO_WARNINGS=1"]),
        lang("go", "Go", "golang:1.23", "go run .", "go", "main.go",
            "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"Hello, interview!\")\n}\n",
            &["GOCACHE=/tmp/go-cache", "GOPATH=/tmp/go", "GOTMPDIR=/tmp", "GOFLAGS=-modcacherw", "GO111MODULE=auto"]),
        lang("java", "Java", "eclipse-temurin:21", "java Main.java", "java", "Main.java",
            "public class Main {\n    public static void main(String[] args) {\n        System.out.println(\"Hello, interview!\");\n    }\n}\n",
            &["JAVA_TOOL_OPTIONS=-Djava.io.tmpdir=/tmp -XX:+UseSerialGC"]),
        lang("rust", "Rust", "rust:1-slim", "rustc -O -o /tmp/main main.rs && /tmp/main", "rust", "main.rs",
            "fn main() {\n    println!(\"Hello, interview!\");\n}\n",
            &["CARGO_HOME=/tmp/cargo", "CARGO_TARGET_DIR=/tmp/target"]),
        lang("c", "C", "gcc:14", "gcc -O2 -Wall -o /tmp/main main.c && /tmp/main", "c", "main.c",
            "#include <stdio.h>\n\nint main(void) {\n    printf(\"Hello, interview!\\n\");\n    return 0;\n}\n",
            &[]),
        lang("cpp", "C++", "gcc:14", "g++ -std=c++20 -O2 -Wall -o /tmp/main main.cpp && /tmp/main", "cpp", "main.cpp",
            "#include <iostream>\n\nint main() {\n    std::cout << \"Hello, interview!\" << std::endl;\n    return 0;\n}\n",
            &[]),
        lang("ruby", "Ruby", "ruby:3.3-slim", "ruby main.rb", "ruby", "main.rb",
            "def main\n  puts 'Hello, interview!'\nend\n\nmain\n",
            &["GEM_HOME=/home/candidate/.gem"]),
        lang("bash", "Bash", "bash:5", "bash main.sh", "shell", "main.sh",
            "#!/usr/bin/env bash\nset -euo pipefail\n\necho \"Hello, interview!\"\n",
            &[]),
    ]
}

impl Catalog {
    /// The built-in languages.
    pub fn builtin() -> Self {
        Self {
            languages: builtin().into_iter().map(|l| (l.id.clone(), l)).collect(),
            problems: Vec::new(),
        }
    }

    /// The built-in languages with the file at `path` applied, if it exists.
    pub fn load(path: &Path) -> Self {
        let mut catalog = Self::builtin();
        match std::fs::read_to_string(path) {
            Ok(text) => catalog.apply(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => catalog.problems.push(CatalogProblem {
                line: None,
                message: format!("cannot read {}: {e}", path.display()),
            }),
        }
        catalog
    }

    /// Applies a catalog file: `[languages.ID]` tables add entries or override fields of
    /// existing ones. A bad entry is reported with its line; the others still apply.
    pub fn apply(&mut self, text: &str) {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            languages: BTreeMap<String, toml::Spanned<toml::Value>>,
        }
        let line_of =
            |offset: usize| Some(text[..offset.min(text.len())].lines().count().max(1) as u32);
        let file: File = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                self.problems.push(CatalogProblem {
                    line: e.span().and_then(|s| line_of(s.start)),
                    message: e.message().to_string(),
                });
                return;
            }
        };
        for (id, spanned) in file.languages {
            // The entry's header names it; the value's span may begin on a blank line above.
            let line = text
                .find(&format!("languages.{id}"))
                .or_else(|| text.find(&format!("languages.\"{id}\"")))
                .map_or_else(|| line_of(spanned.span().start), line_of);
            let problem = |message: String| CatalogProblem { line, message };
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                || id.is_empty()
            {
                self.problems.push(problem(format!(
                    "language id {id:?}: use letters, digits, - and _"
                )));
                continue;
            }
            let patch: LanguagePatch = match spanned.into_inner().try_into() {
                Ok(p) => p,
                Err(e) => {
                    self.problems
                        .push(problem(format!("language {id}: {}", e.message())));
                    continue;
                }
            };
            match self.languages.get_mut(&id) {
                Some(existing) => patch.apply_to(existing),
                None => {
                    let (Some(image), Some(run)) = (patch.image.clone(), patch.run.clone()) else {
                        self.problems.push(problem(format!(
                            "language {id}: a new language needs `image` and `run`"
                        )));
                        continue;
                    };
                    let mut l = Language {
                        id: id.clone(),
                        name: id.clone(),
                        image,
                        run,
                        mode: "plaintext".into(),
                        starter: Vec::new(),
                        env: Vec::new(),
                    };
                    patch.apply_to(&mut l);
                    self.languages.insert(id, l);
                }
            }
        }
    }

    /// The language with this id.
    pub fn get(&self, id: &str) -> Option<&Language> {
        self.languages.get(id)
    }

    /// Every language, by id.
    pub fn languages(&self) -> impl Iterator<Item = &Language> {
        self.languages.values()
    }

    /// The ids, for error messages.
    pub fn ids(&self) -> Vec<&str> {
        self.languages.keys().map(String::as_str).collect()
    }
}

impl LanguagePatch {
    fn apply_to(self, l: &mut Language) {
        if let Some(v) = self.name {
            l.name = v;
        }
        if let Some(v) = self.image {
            l.image = v;
        }
        if let Some(v) = self.run {
            l.run = v;
        }
        if let Some(v) = self.mode {
            l.mode = v;
        }
        if let Some(v) = self.starter {
            l.starter = v;
        }
        if let Some(v) = self.env {
            l.env = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_cover_the_documented_ids() {
        let c = Catalog::builtin();
        for id in [
            "python",
            "javascript",
            "typescript",
            "go",
            "java",
            "rust",
            "c",
            "cpp",
            "ruby",
            "bash",
        ] {
            let l = c.get(id).unwrap_or_else(|| panic!("{id} missing"));
            assert!(
                !l.image.is_empty() && !l.run.is_empty() && !l.starter.is_empty(),
                "{id}"
            );
        }
    }

    #[test]
    fn a_file_overrides_fields_and_adds_languages() {
        let mut c = Catalog::builtin();
        c.apply(
            r#"
[languages.python]
image = "offline/python:latest"

[languages.elixir]
name = "Elixir"
image = "elixir:1.17"
run = "elixir main.exs"
starter = [{ path = "main.exs", content = "IO.puts 1" }]
"#,
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let py = c.get("python").unwrap();
        assert_eq!(py.image, "offline/python:latest");
        assert_eq!(
            py.run, "python3 main.py",
            "unnamed fields keep their built-in value"
        );
        assert_eq!(c.get("elixir").unwrap().starter[0].path, "main.exs");
    }

    #[test]
    fn a_bad_entry_is_reported_with_its_line_and_the_rest_loads() {
        let mut c = Catalog::builtin();
        c.apply(
            "[languages.good]\nimage = \"x:1\"\nrun = \"x\"\n\n[languages.bad]\nimage = 42\n\n[languages.incomplete]\nname = \"No image\"\n",
        );
        assert!(c.get("good").is_some());
        assert!(c.get("bad").is_none());
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert_eq!(c.problems[0].line, Some(5), "{:?}", c.problems);
        assert_eq!(c.problems[1].line, Some(8), "{:?}", c.problems);
        assert!(c.problems[0].message.contains("bad"));
        assert!(c.problems[1].message.contains("needs `image` and `run`"));
    }

    #[test]
    fn a_broken_file_keeps_the_builtins() {
        let mut c = Catalog::builtin();
        c.apply("[languages.python\nimage = ");
        assert!(c.get("python").is_some());
        assert_eq!(c.problems.len(), 1);
        assert_eq!(c.problems[0].line, Some(1));
    }
}
