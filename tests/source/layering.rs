//! The layering that src/lib.rs promises, read from the source: the modules in the order of
//! lib.rs's table, each using only modules above it (helpers, marked "(helper)" in the table,
//! from anywhere, and using only each other), and inside every folder module no import circle
//! between its children. Comments do not count (a doc link is not an import); code, tests
//! included, does.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module of lib.rs's table: its name and whether it is a helper.
struct Row {
    name: String,
    helper: bool,
}

/// The rows of lib.rs's module table, in order: lines `//! | [`name`] | what it holds |`.
fn table(lib_rs: &str) -> Vec<Row> {
    lib_rs
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("//! | [`")?;
            let (name, text) = rest.split_once("`]")?;
            Some(Row {
                name: name.to_string(),
                helper: text.contains("(helper)"),
            })
        })
        .collect()
}

/// The code of a Rust file with comments and string literals blanked out.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("'\"'") {
            out.push_str("' '");
            i += 3;
        } else if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            i += end;
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|&c| c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            let end = rest[body..]
                .find(&close)
                .map_or(rest.len(), |e| body + e + close.len());
            out.push_str("\"\"");
            i += end;
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() && rest.as_bytes()[j] != b'"' {
                j += if rest.as_bytes()[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The module path of a source file under `src/` (`src/engine/cpu/lstm.rs` → `engine::cpu::lstm`,
/// `src/engine/mod.rs` → `engine`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Every absolute path (`crate::a::b`, `super::x`, `self::y`, resolved) that `code` names,
/// from a file whose module path is `module`: each as the list of its segments after `crate`.
fn referenced_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    // Inline modules (`mod tests { ... }`) shift what `super` means inside them.
    let mut inline_depths: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let chars: Vec<char> = code.chars().collect();
    let word_at = |i: usize| -> String {
        chars[i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect()
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth = depth.saturating_sub(1);
            inline_depths.retain(|&d| d <= depth);
        } else if starts_word && (c == 'c' || c == 's' || c == 'm') {
            let word = word_at(i);
            if word == "mod" {
                let mut j = i + 3;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let name = word_at(j);
                let mut k = j + name.len();
                while k < chars.len() && chars[k].is_whitespace() {
                    k += 1;
                }
                if !name.is_empty() && k < chars.len() && chars[k] == '{' {
                    inline_depths.push(depth + 1);
                }
            } else if word == "crate" || word == "super" {
                let (base, consumed) = resolve_prefix(&chars[i..], module, inline_depths.len());
                if let Some(base) = base {
                    for tail in path_tails(&chars[i + consumed..]) {
                        let mut path = base.clone();
                        path.extend(tail);
                        paths.push(path);
                    }
                }
                i += consumed;
                continue;
            }
            i += word.len().max(1);
            continue;
        }
        i += 1;
    }
    paths
}

/// Resolves a leading `crate::` or `super::super::...` at the start of `chars` from
/// module `module`, `inline` inline modules deep; returns the base path and the characters
/// consumed (through the last `::`).
fn resolve_prefix(
    chars: &[char],
    module: &[String],
    inline: usize,
) -> (Option<Vec<String>>, usize) {
    let text: String = chars.iter().take(200).collect();
    if text.starts_with("crate::") {
        return (Some(Vec::new()), "crate::".len());
    }
    let mut ups = 0usize;
    let mut consumed = 0;
    while text[consumed..].starts_with("super::") {
        ups += 1;
        consumed += "super::".len();
    }
    if ups == 0 {
        return (None, 1);
    }
    // Inside `inline` inline modules, the first `inline` supers climb out of them.
    let climbs = ups.saturating_sub(inline);
    if climbs == 0 || climbs > module.len() {
        return (None, consumed);
    }
    (Some(module[..module.len() - climbs].to_vec()), consumed)
}

/// The paths that follow a prefix: `a::b` gives `[a, b]`; `{a::B, c}` gives `[a, B]` and `[c]`
/// (only the segments up to the first non-path character, which is all the layering needs).
fn path_tails(chars: &[char]) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut i = 0;
    loop {
        let word: String = chars[i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        if !word.is_empty() {
            i += word.len();
            segments.push(word);
            if chars[i..].starts_with(&[':', ':']) {
                i += 2;
                continue;
            }
            return vec![segments];
        }
        if chars.get(i) == Some(&'{') {
            let mut tails = Vec::new();
            let mut depth = 0;
            let mut start = i + 1;
            for (j, &c) in chars.iter().enumerate().skip(i) {
                match c {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        let inner: String = chars[start..j].iter().collect();
                        let inner: Vec<char> = inner.trim().chars().collect();
                        for tail in path_tails(&inner) {
                            let mut path = segments.clone();
                            path.extend(tail);
                            tails.push(path);
                        }
                        start = j + 1;
                        if c == '}' {
                            return tails;
                        }
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            return tails;
        }
        return vec![segments];
    }
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Every file's module path and the paths its code names.
fn references(src: &Path) -> Vec<(PathBuf, Vec<String>, Vec<Vec<String>>)> {
    rust_files(src)
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|file| {
            let module = module_path(src, &file);
            let code = code_only(&fs::read_to_string(&file).expect("readable source"));
            let paths = referenced_paths(&code, &module);
            (file, module, paths)
        })
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn lib_rs_table_lists_every_module_once() {
    let lib = fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    let rows: Vec<String> = table(&lib).into_iter().map(|r| r.name).collect();
    let declared: Vec<String> = code_only(&lib)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let listed: BTreeSet<&String> = rows.iter().collect();
    assert_eq!(listed.len(), rows.len(), "a module listed twice: {rows:?}");
    assert_eq!(
        listed,
        declared.iter().collect::<BTreeSet<_>>(),
        "lib.rs's table and its `pub mod` lines differ"
    );
}

#[test]
fn every_module_uses_only_modules_above_it_in_lib_rs() {
    let src = src();
    let lib = fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let rows = table(&lib);
    let position: BTreeMap<&str, (usize, bool)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), (i, r.helper)))
        .collect();
    let mut wrong = Vec::new();
    for (file, module, paths) in references(&src) {
        let Some(&(at, helper)) = module.first().and_then(|m| position.get(m.as_str())) else {
            continue;
        };
        for path in paths {
            let Some(target) = path.first() else { continue };
            let Some(&(target_at, target_helper)) = position.get(target.as_str()) else {
                continue;
            };
            if target == &module[0] {
                continue;
            }
            let allowed = if helper {
                target_helper
            } else {
                target_helper || target_at < at
            };
            if !allowed {
                let file = file.strip_prefix(&src).unwrap_or(&file);
                let path = path.join("::");
                wrong.push(format!("src/{} uses crate::{path}", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against lib.rs's order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_folder_module_has_an_import_circle_between_its_children() {
    let src = src();
    // Edges child → child within each folder module, keyed by the folder's module path.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for (_, module, paths) in references(&src) {
        for depth in 0..module.len() {
            let (parent, child) = (&module[..depth], &module[depth]);
            for path in &paths {
                if path.len() > depth && path[..depth] == *parent && &path[depth] != child {
                    edges
                        .entry(parent.to_vec())
                        .or_default()
                        .insert((child.clone(), path[depth].clone()));
                }
            }
        }
    }
    let mut circles = Vec::new();
    for (parent, edges) in &edges {
        // Children that are modules (files or folders) of this parent.
        let folder = parent.iter().fold(src.clone(), |p, s| p.join(s));
        let is_child =
            |name: &str| folder.join(format!("{name}.rs")).is_file() || folder.join(name).is_dir();
        let edges: BTreeSet<&(String, String)> = edges
            .iter()
            .filter(|(a, b)| is_child(a) && is_child(b))
            .collect();
        for (a, b) in &edges {
            if reaches(&edges, b, a) {
                let folder = ["crate"]
                    .into_iter()
                    .chain(parent.iter().map(String::as_str));
                let folder: Vec<&str> = folder.collect();
                circles.push(format!("{}: {a} → {b} → … → {a}", folder.join("::")));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles inside folder modules:\n{}",
        circles.join("\n")
    );
}

/// Whether `to` is reachable from `from` along `edges`.
fn reaches(edges: &BTreeSet<&(String, String)>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(node) = stack.pop() {
        if node == to {
            return true;
        }
        if seen.insert(node.clone()) {
            stack.extend(
                edges
                    .iter()
                    .filter(|(a, _)| *a == node)
                    .map(|(_, b)| b.clone()),
            );
        }
    }
    false
}

#[test]
fn the_reader_of_paths_sees_grouped_nested_and_relative_imports() {
    // The reader itself, so that the tests above cannot pass by reading nothing.
    let module = vec!["engine".to_string(), "packed".to_string()];
    let code = code_only(
        "use crate::{data::{self, Profile}, model::Params};\n\
         // use crate::cli; (a comment)\n\
         const S: &str = \"crate::bench\";\n\
         use super::scalar::Strided;\n\
         mod tests { use super::*; use super::super::layout::X; }",
    );
    let paths = referenced_paths(&code, &module);
    let firsts: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        firsts,
        [
            "data::self",
            "data::Profile",
            "model::Params",
            "engine::scalar::Strided",
            "engine::layout::X"
        ]
    );
}
