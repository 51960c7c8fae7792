//! A small rule set for unit tests across the crate: it keeps every invariant, and each test
//! breaks or uses one thing.

use super::{RuleSet, RuleSetError, FILES};

const RULESET: &str = r#"name = "mini"
score_scale.min = 0
score_scale.max = 1000
score_scale.base = 500
score_scale.levels = [
    { name = "C", min = 0 },
    { name = "B", min = 400 },
    { name = "A", min = 500 },
    { name = "AA", min = 600 },
    { name = "AAA", min = 700 },
]
"#;
const LISTS: &str = r#"
[[list]]
code = "debtor"
name = "失信被执行人"
kind = "black"
serious = true
body = "法院"
subjects = "any"

[[list]]
code = "abnormal"
name = "经营异常名录"
kind = "grey"
body = "市场监管"
subjects = "organizations"

[[list]]
code = "score"
name = "个人信用积分"
kind = "red"
body = "信用中心"
subjects = "persons"
scored = true
"#;
const MATTERS: &str = r#"
[[matter]]
code = "procurement"
name = "政府采购"
department = "财政局"

[[matter]]
code = "basic"
name = "基本公共服务"
department = "各部门"
basic_public_service = true
"#;
const MEASURES: &str = r#"
[[measure]]
code = "ban"
name = "限制参加政府采购"
category = 1
effect = "block"
legal_basis = "《中华人民共和国政府采购法》第二十二条"
department = "财政局"
text = "限制"
matters = ["procurement"]

[[measure]]
code = "watch"
name = "重点关注"
category = 2
effect = "flag"
legal_basis = ""
department = "财政局"
text = "审慎"
matters = ["procurement"]

[[measure]]
code = "perk"
name = "优先办理"
category = 2
effect = "reward"
legal_basis = ""
department = "各部门"
text = "绿色通道"
matters = ["procurement", "basic"]
"#;
const TOPICS: &str = r#"
[[topic]]
code = "debtor"
name = "失信被执行人"
kind = "penalty"
lists = ["debtor"]
measures = ["ban"]

[topic.responsible_persons]
roles = ["legal_rep"]
measures = ["ban"]

[[topic]]
code = "abnormal"
name = "经营异常"
kind = "penalty"
lists = ["abnormal"]
measures = ["watch"]

[[topic]]
code = "score"
name = "信用积分"
kind = "incentive"
lists = ["score"]
measures = ["perk"]
min_score_level = "AA"
"#;

fn write(dir: &std::path::Path, files: [&str; 5]) {
    for (name, text) in FILES.iter().zip(files) {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

pub(crate) fn compile_with(change: impl FnOnce(&mut [String; 5])) -> Result<RuleSet, RuleSetError> {
    let dir = tempfile::tempdir().unwrap();
    let mut files = [RULESET, LISTS, MATTERS, MEASURES, TOPICS].map(str::to_owned);
    change(&mut files);
    write(dir.path(), files.each_ref().map(String::as_str));
    super::load_dir(dir.path())
}

/// The small rule set as written.
pub(crate) fn mini() -> RuleSet {
    compile_with(|_| {}).unwrap_or_else(|err| panic!("{err}"))
}
