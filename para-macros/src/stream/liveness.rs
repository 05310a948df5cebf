//! Which loop locals travel from one stage to the next.
//!
//! A stage runs as its own closure, so a loop-local variable bound in one
//! stage and read in a later one must be moved along with the item. Only
//! those may travel: moving a variable the later stage does not read (it
//! shadows it, or the name it reads is a closure parameter or an outer
//! variable of the same name) could fail a `Send` bound or use a value
//! after it was moved. [`crate::scope::Scopes`] gives, per stage, the names
//! it reads before binding them and the names its top-level `let`s leave
//! bound; this module runs the usual backward liveness over the stages.

use crate::scope::{pat_bindings, Binding, Scopes};
use std::collections::{BTreeMap, BTreeSet};
use syn::{Pat, Stmt};

/// Per stage `j`, the variables that flow into it (empty for the source),
/// with the mutability of the binding they come from; then one more entry,
/// always empty, for what leaves the last stage.
pub fn carried(loop_pat: &Pat, stages: &[&[Stmt]]) -> Vec<Vec<Binding>> {
    // Per stage: what it reads before binding, what it leaves bound.
    let analysed: Vec<(Vec<String>, Vec<Binding>)> = stages
        .iter()
        .map(|stmts| {
            let mut scopes = Scopes::new([]);
            scopes.visit_stmts(stmts);
            let bound = scopes.outermost();
            (scopes.free, bound)
        })
        .collect();
    // needed[j]: names stage j, or a later stage through it, reads from
    // before stage j.
    let n = stages.len();
    let mut needed = vec![BTreeSet::<String>::new(); n + 1];
    for j in (0..n).rev() {
        let (reads, bound) = &analysed[j];
        let mut set: BTreeSet<String> = needed[j + 1]
            .iter()
            .filter(|name| !bound.iter().any(|b| &b.name == *name))
            .cloned()
            .collect();
        set.extend(reads.iter().cloned());
        needed[j] = set;
    }
    // available: the loop-local bindings in scope before stage j.
    let mut available: BTreeMap<String, bool> = BTreeMap::new();
    let mut from_pattern = Vec::new();
    pat_bindings(loop_pat, &mut from_pattern);
    for b in from_pattern {
        available.insert(b.name, b.mutable);
    }
    let mut carried = vec![Vec::new()];
    for j in 1..n {
        for b in &analysed[j - 1].1 {
            available.insert(b.name.clone(), b.mutable);
        }
        carried.push(
            needed[j]
                .iter()
                .filter_map(|name| {
                    let mutable = *available.get(name)?;
                    Some(Binding {
                        name: name.clone(),
                        mutable,
                    })
                })
                .collect(),
        );
    }
    carried.push(Vec::new());
    carried
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pat: &str, stages: &[&str]) -> Vec<Vec<String>> {
        let pat = syn::parse::Parser::parse_str(Pat::parse_single, pat).unwrap();
        let blocks: Vec<syn::Block> = stages
            .iter()
            .map(|s| syn::parse_str(&format!("{{ {s} }}")).unwrap())
            .collect();
        let stmts: Vec<&[Stmt]> = blocks.iter().map(|b| b.stmts.as_slice()).collect();
        carried(&pat, &stmts)
            .into_iter()
            .map(|v| v.into_iter().map(|b| b.name).collect())
            .collect()
    }

    #[test]
    fn only_what_a_later_stage_reads_travels() {
        // Shadowing: the second stage binds its own `a` before reading it.
        let c = names("x", &["let a = x;", "let a = 2; a", ""]);
        assert_eq!(c[1], Vec::<String>::new());
        // `let b = b + 1` reads the earlier `b`.
        let c = names("x", &["let b = x;", "let b = b + 1;", "b"]);
        assert_eq!(
            (c[1].clone(), c[2].clone()),
            (vec!["b".into()], vec!["b".into()])
        );
        // Block scope, closure parameter, macro arguments.
        let c = names(
            "x",
            &[
                "let t = 1;",
                "{ let t = 2; t }; (|x: u8| x)(1);",
                "println!(\"{t}\")",
            ],
        );
        assert_eq!(c[1], vec!["t".to_string()]);
        assert_eq!(c[2], vec!["t".to_string()]);
        // Outer names never travel.
        let c = names("x", &["", "total += x"]);
        assert_eq!(c[1], vec!["x".to_string()]);
    }
}
