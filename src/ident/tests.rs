//! Fixtures of published and computed example codes and property tests.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

/// USCC alphabet, written out again so that the tests do not trust the implementation's table.
const USCC_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const RESIDENT_CHARS: &str = "0123456789X";

/// Reference USCC check character, straight from GB 32100-2015.
fn uscc_check(body: &str) -> char {
    let mut sum = 0usize;
    let mut weight = 1usize;
    for c in body.chars() {
        sum += USCC_CHARS.find(c).expect("body char in alphabet") * weight;
        weight = weight * 3 % 31;
    }
    let v = (31 - sum % 31) % 31;
    USCC_CHARS.chars().nth(v).expect("value below 31")
}

/// Reference resident ID check character, ISO 7064 MOD 11-2.
fn resident_check(body: &str) -> char {
    let sum: u32 = body
        .chars()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).expect("digit") * ((1u32 << (17 - i)) % 11))
        .sum();
    "10X98765432"
        .chars()
        .nth((sum % 11) as usize)
        .expect("below 11")
}

fn ok(raw: &str) -> SubjectId {
    match parse(raw) {
        Ok(id) => id,
        Err(e) => panic!("`{raw}` should parse: {e}"),
    }
}

fn err(raw: &str) -> IdError {
    match parse(raw) {
        Ok(id) => panic!("`{raw}` should be refused, got {id:?}"),
        Err(e) => e,
    }
}

const USCC_FIXTURES: [(&str, SubjectKind); 13] = [
    ("91350100M000100Y43", SubjectKind::Enterprise),
    ("91350200776049653A", SubjectKind::Enterprise),
    ("913502000728319549", SubjectKind::Enterprise),
    ("91440101MA5CJQ4N59", SubjectKind::Enterprise),
    ("9135021359498494XQ", SubjectKind::Enterprise),
    ("123502001549897397", SubjectKind::PublicInstitution),
    ("91230200MA1B2C3D8T", SubjectKind::Enterprise),
    ("91230202MA18XK7PXM", SubjectKind::Enterprise),
    ("92230203MA1CPQ4R3H", SubjectKind::IndividualBusiness),
    ("93230221MA1D0E2F46", SubjectKind::FarmerCooperative),
    ("12230200414023456Q", SubjectKind::PublicInstitution),
    ("52230200MJ9876A52E", SubjectKind::SocialOrganization),
    ("912302061276543275", SubjectKind::Enterprise),
];

const RESIDENT_FIXTURES: [&str; 5] = [
    "11010519491231002X",
    "370101190102039973",
    "230202198503121238",
    "230203199207010462",
    "230281200101093575",
];

#[test]
fn known_good_usccs() {
    for (code, kind) in USCC_FIXTURES {
        let id = ok(code);
        assert_eq!(id.id_type(), IdType::Uscc, "{code}");
        assert_eq!(id.kind(), kind, "{code}");
        assert_eq!(id.check(), CheckOutcome::Valid, "{code}");
        assert_eq!(id.as_str(), code);
        assert_eq!(id.to_string(), code);
        assert_eq!(id.masked().as_str(), code, "organisation codes are public");
        assert_eq!(id.key().to_id_string(), code);
        assert_eq!(id.key().id_type(), IdType::Uscc);
        let explicit = parse_as(code, IdType::Uscc).expect("explicit type");
        assert_eq!(explicit, id);
    }
}

#[test]
fn known_good_resident_ids() {
    for code in RESIDENT_FIXTURES {
        let id = ok(code);
        assert_eq!(id.id_type(), IdType::ResidentId, "{code}");
        assert_eq!(id.kind(), SubjectKind::Person, "{code}");
        assert_eq!(id.check(), CheckOutcome::Valid, "{code}");
        assert_eq!(id.as_str(), code);
        assert_eq!(id.key().to_id_string(), code);
        assert_eq!(id.key().id_type(), IdType::ResidentId);
        assert_eq!(parse_as(code, IdType::ResidentId), Ok(id));
    }
}

#[test]
fn all_digit_usccs_are_not_taken_for_resident_ids() {
    // Legacy numeric org codes: resident-shaped, but not valid resident IDs.
    for code in [
        "912302061276543275",
        "913502000728319549",
        "123502001549897397",
    ] {
        assert_eq!(ok(code).id_type(), IdType::Uscc, "{code}");
        assert!(parse_as(code, IdType::ResidentId)
            .is_err_and(|e| matches!(e, IdError::BadBirthDate { .. })));
    }
}

#[test]
fn wrong_uscc_check_is_reported_not_refused() {
    let id = ok("91230200MA1B2C3D8U");
    assert_eq!(id.id_type(), IdType::Uscc);
    assert_eq!(id.check(), CheckOutcome::Mismatch { expected: 'T' });
    assert!(!id.check().is_valid());
    assert_eq!(id.as_str(), "91230200MA1B2C3D8U");
}

#[test]
fn pilot_codes_parse_with_mismatch() {
    for code in [
        "91350100M0001TGQXM",
        "91350211M0000XUF46",
        "91350203M0001FUE2P",
    ] {
        let id = ok(code);
        assert_eq!(id.id_type(), IdType::Uscc, "{code}");
        assert_eq!(id.kind(), SubjectKind::Enterprise, "{code}");
        let expected = uscc_check(&code[..17]);
        assert_ne!(expected, code.chars().last().expect("18 chars"));
        assert_eq!(id.check(), CheckOutcome::Mismatch { expected }, "{code}");
        assert_eq!(id.key().to_id_string(), code);
    }
}

#[test]
fn wrong_resident_check_is_reported_not_refused() {
    let id = ok("230202198503121239");
    assert_eq!(id.id_type(), IdType::ResidentId);
    assert_eq!(id.check(), CheckOutcome::Mismatch { expected: '8' });
    let id = ok("110105194912310021");
    assert_eq!(id.check(), CheckOutcome::Mismatch { expected: 'X' });
}

#[test]
fn invalid_character() {
    let e = err("91230200MA1B2C3DOT");
    assert_eq!(
        e,
        IdError::InvalidChar {
            position: 17,
            ch: 'O',
            id_type: IdType::Uscc
        }
    );
    assert_eq!(
        e.to_string(),
        "invalid character `O` at position 17: a unified social credit code uses 0-9 and A-Z \
         except I, O, S, V, Z"
    );
    assert_eq!(
        err("91230200MA1B2C3D中T"),
        IdError::InvalidChar {
            position: 17,
            ch: '中',
            id_type: IdType::Uscc
        }
    );
    assert_eq!(
        err("91230200MA1B2C3D\tT").to_string(),
        "invalid character `\\t` at position 17: a unified social credit code uses 0-9 and A-Z \
         except I, O, S, V, Z"
    );
    // Interior full-width space becomes a space, which is no identifier character.
    assert!(matches!(
        err("91230200MA\u{3000}B2C3D8T"),
        IdError::InvalidChar {
            position: 11,
            ch: ' ',
            ..
        }
    ));
    let e = parse_as("23020219850312123A", IdType::ResidentId).expect_err("A is no check char");
    assert_eq!(
        e.to_string(),
        "invalid character `A` at position 18: the check character of a resident id is a digit or X"
    );
}

#[test]
fn not_digit() {
    let e = err("91A30200MA1B2C3D8T");
    assert_eq!(
        e,
        IdError::NotDigit {
            position: 3,
            ch: 'A',
            id_type: IdType::Uscc
        }
    );
    assert_eq!(
        e.to_string(),
        "character `A` at position 3 is not a digit: positions 3-8 of a unified social credit \
         code are digits"
    );
    let e = parse_as("2302021985A3121238", IdType::ResidentId).expect_err("letter in body");
    assert_eq!(
        e,
        IdError::NotDigit {
            position: 11,
            ch: 'A',
            id_type: IdType::ResidentId
        }
    );
    assert_eq!(
        e.to_string(),
        "character `A` at position 11 is not a digit: positions 1-17 of a resident id are digits"
    );
    // Full-width digits are digits; other non-ASCII is reported as itself.
    let id = parse_as("23020219８5０3121238", IdType::ResidentId).map(|id| id.to_string());
    assert_eq!(id.as_deref(), Ok("230202198503121238"));
    let e = parse_as("2302021985é3121238", IdType::ResidentId).expect_err("é");
    assert!(matches!(
        e,
        IdError::NotDigit {
            position: 11,
            ch: 'é',
            ..
        }
    ));
}

#[test]
fn lower_case_is_normalised() {
    let id = ok("91230200ma1b2c3d8t");
    assert_eq!(id.as_str(), "91230200MA1B2C3D8T");
    assert_eq!(id.check(), CheckOutcome::Valid);
    let id = ok("11010519491231002x");
    assert_eq!(id.as_str(), "11010519491231002X");
    assert_eq!(id.kind(), SubjectKind::Person);
}

#[test]
fn full_width_and_whitespace_are_normalised() {
    let raw = "\u{3000} ９１２３０２００ＭＡ１Ｂ２Ｃ３Ｄ８ｔ\u{3000}\n";
    let id = ok(raw);
    assert_eq!(id.as_str(), "91230200MA1B2C3D8T");
    assert_eq!(id.check(), CheckOutcome::Valid);
    assert_eq!(normalize(raw), "91230200MA1B2C3D8T");
    let id = ok("２３０２０２１９８５０３１２１２３８");
    assert_eq!(id.as_str(), "230202198503121238");
    assert_eq!(id.kind(), SubjectKind::Person);
    let id = ok(" 11010519491231002ｘ ");
    assert_eq!(id.as_str(), "11010519491231002X");
}

#[test]
fn normalize_borrows_when_already_normal() {
    use std::borrow::Cow;
    assert!(matches!(
        normalize("  91230200MA1B2C3D8T "),
        Cow::Borrowed("91230200MA1B2C3D8T")
    ));
    assert!(matches!(normalize("91230200ma1b2c3d8t"), Cow::Owned(_)));
    assert_eq!(normalize("ａｂｃ！～"), "ABC!~");
    assert_eq!(normalize("\u{3000}\u{3000}"), "");
    assert_eq!(normalize("ä"), "ä");
}

#[test]
fn wrong_length_and_empty() {
    let e = err("9123020MA1B2C3D8T");
    assert_eq!(e, IdError::WrongLength { len: 17 });
    assert_eq!(
        e.to_string(),
        "identifier length is 17, expected 18 characters"
    );
    assert_eq!(err("91230200MA1B2C3D8TT"), IdError::WrongLength { len: 19 });
    // Counted in characters, not bytes.
    assert_eq!(err("中中中"), IdError::WrongLength { len: 3 });
    // Fifteen characters that are not all digits are no first-generation resident ID.
    assert_eq!(err("23020285031212X"), IdError::WrongLength { len: 15 });
    assert_eq!(
        parse_as("230202850312123", IdType::Uscc),
        Err(IdError::WrongLength { len: 15 })
    );
    assert_eq!(err(""), IdError::Empty);
    assert_eq!(err(" \u{3000}\t"), IdError::Empty);
    assert_eq!(IdError::Empty.to_string(), "identifier is empty");
    assert_eq!(parse_as("", IdType::ResidentId), Err(IdError::Empty));
}

#[test]
fn first_generation_ids_are_upgraded() {
    // The example 230202198503121238 in its 15-digit form.
    let id = ok("230202850312123");
    assert_eq!(id.as_str(), "230202198503121238");
    assert!(id.upgraded());
    assert_eq!(id.check(), CheckOutcome::Valid);
    assert_eq!(id.kind(), SubjectKind::Person);
    assert_eq!(id.key(), ok("230202198503121238").key());
    assert!(!ok("230202198503121238").upgraded());
    assert_eq!(id.masked().as_str(), "230202********1238");
    // Normalised like any identifier: full-width, padded.
    assert_eq!(
        ok(" ２３０２０２８５０３１２１２３\u{3000}").as_str(),
        id.as_str()
    );
    assert_eq!(
        parse_as("230202850312123", IdType::ResidentId).map(|id| id.key()),
        Ok(id.key())
    );
}

#[test]
fn first_generation_dates_must_exist() {
    let e = err("230202850230123");
    assert_eq!(e, IdError::BadLegacyBirthDate { date: 19_850_230 });
    assert_eq!(
        e.to_string(),
        "invalid birth date `850230` at positions 7-12 of the 15-digit resident id: 1985-02 has no day 30, it has 28 days"
    );
    assert_eq!(
        err("230202851312123").to_string(),
        "invalid birth date `851312` at positions 7-12 of the 15-digit resident id: month 13 does not exist"
    );
    // 1900 was no leap year; 1996 was.
    assert_eq!(
        err("230202000229123"),
        IdError::BadLegacyBirthDate { date: 19_000_229 }
    );
    assert!(ok("230202960229123").upgraded());
}

#[test]
fn bad_birth_dates() {
    let cases = [
        (
            "230202198502301238",
            19850230,
            "1985-02 has no day 30, it has 28 days",
        ),
        (
            "230202190002291238",
            19000229,
            "1900-02 has no day 29, it has 28 days",
        ),
        ("230202198513011238", 19851301, "month 13 does not exist"),
        ("230202198500011238", 19850001, "month 00 does not exist"),
        (
            "230202198504001238",
            19850400,
            "1985-04 has no day 00, it has 30 days",
        ),
        (
            "230202198504311238",
            19850431,
            "1985-04 has no day 31, it has 30 days",
        ),
        (
            "230202189912311238",
            18991231,
            "year 1899 is outside 1900-2099",
        ),
        (
            "230202210001011238",
            21000101,
            "year 2100 is outside 1900-2099",
        ),
    ];
    for (code, date, why) in cases {
        let e = parse_as(code, IdType::ResidentId).expect_err(code);
        assert_eq!(e, IdError::BadBirthDate { date }, "{code}");
        assert_eq!(
            e.to_string(),
            format!("invalid birth date `{date:08}` at positions 7-14 of the resident id: {why}")
        );
        // Detection agrees unless the text happens to be a valid USCC.
        match parse(code) {
            Err(e2) => assert_eq!(e2, e),
            Ok(id) => {
                assert_eq!(id.id_type(), IdType::Uscc, "{code}");
                assert!(id.check().is_valid(), "{code}");
            }
        }
    }
    assert_eq!(
        err("230202198502301238"),
        IdError::BadBirthDate { date: 19850230 }
    );
    // Leap days.
    for date in ["20000229", "19960229", "20240229", "20990101", "19000101"] {
        let body = format!("230202{date}123");
        let code = format!("{body}{}", resident_check(&body));
        assert_eq!(ok(&code).check(), CheckOutcome::Valid, "{code}");
    }
}

#[test]
fn masking() {
    let id = ok("230202198503121238");
    assert_eq!(id.masked().as_str(), "230202********1238");
    assert_eq!(id.masked().to_string(), "230202********1238");
    assert_eq!(id.to_string(), "230202198503121238");
    let debug = format!("{id:?} {:?}", id.key());
    assert!(!debug.contains("19850312"), "{debug}");
    assert!(debug.contains("230202********1238"), "{debug}");
    let org = ok("91230202MA18XK7PXM");
    assert_eq!(org.masked().to_string(), "91230202MA18XK7PXM");
    assert!(format!("{:?}", org.key()).contains("91230202MA18XK7PXM"));
}

#[test]
fn names() {
    assert_eq!(IdType::Uscc.as_str(), "uscc");
    assert_eq!(IdType::ResidentId.as_str(), "resident_id");
    assert_eq!("uscc".parse::<IdType>(), Ok(IdType::Uscc));
    assert_eq!("resident_id".parse::<IdType>(), Ok(IdType::ResidentId));
    let e = "passport".parse::<IdType>().expect_err("unknown type");
    assert_eq!(
        e.to_string(),
        "unknown identifier type `passport`, expected `uscc`, `resident_id`, `org_code` or `registration_number`"
    );
    for id_type in [IdType::OrgCode, IdType::RegistrationNumber] {
        assert_eq!(id_type.as_str().parse::<IdType>(), Ok(id_type));
    }
    let kinds = [
        (SubjectKind::Enterprise, "enterprise", "企业"),
        (
            SubjectKind::IndividualBusiness,
            "individual_business",
            "个体工商户",
        ),
        (
            SubjectKind::FarmerCooperative,
            "farmer_cooperative",
            "农民专业合作社",
        ),
        (SubjectKind::StateOrgan, "state_organ", "机关"),
        (
            SubjectKind::PublicInstitution,
            "public_institution",
            "事业单位",
        ),
        (
            SubjectKind::MassOrganization,
            "mass_organization",
            "群团组织",
        ),
        (
            SubjectKind::SocialOrganization,
            "social_organization",
            "社会组织",
        ),
        (
            SubjectKind::OtherOrganization,
            "other_organization",
            "其他组织",
        ),
        (SubjectKind::Organization, "organization", "组织"),
        (SubjectKind::Person, "person", "自然人"),
    ];
    for (kind, name, label) in kinds {
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.to_string(), name);
        assert_eq!(kind.label(), label);
    }
}

/// Organisation codes embedded in the verified example USCCs above, and a published
/// registration number.
#[test]
fn legacy_identifiers_with_known_good_check_characters() {
    for (uscc, code) in [
        ("91350200776049653A", "776049653"),
        ("913502000728319549", "072831954"),
        ("91440101MA5CJQ4N59", "MA5CJQ4N5"),
        ("123502001549897397", "154989739"),
        ("91230202MA18XK7PXM", "MA18XK7PX"),
    ] {
        let id = parse_as(code, IdType::OrgCode).expect("organisation code");
        assert_eq!(id.check(), CheckOutcome::Valid, "{code}");
        assert_eq!(id.kind(), SubjectKind::Organization);
        assert_eq!(id.as_str(), code);
        // Detected by its length, with or without the hyphen, in any case and width.
        assert_eq!(ok(code), id);
        let hyphenated = format!("{}-{}", &code[..8], &code[8..]);
        assert_eq!(ok(&hyphenated), id);
        assert_eq!(ok(&format!(" {}\u{3000}", hyphenated.to_lowercase())), id);
        assert_eq!(ok(uscc).embedded_org_code(), Some(id.key()), "{uscc}");
        assert_eq!(ok(uscc).key().embedded_org_code(), Some(id.key()));
        assert_eq!(id.key().to_id_string(), code);
        assert_eq!(SubjectKey::from_u128(id.key().as_u128()), Some(id.key()));
        assert_eq!(SubjectKey::from_words(id.key().to_words()), id.key());
        assert_eq!(id.masked().as_str(), code);
    }
    // 工商注册号 110108000000016: ISO 7064 MOD 11,10 gives 6.
    let registration = ok("110108000000016");
    assert_eq!(registration.id_type(), IdType::RegistrationNumber);
    assert_eq!(registration.check(), CheckOutcome::Valid);
    assert_eq!(registration.kind(), SubjectKind::Organization);
    assert_eq!(registration.key().to_id_string(), "110108000000016");
    assert_eq!(
        SubjectKey::from_words(registration.key().to_words()),
        registration.key()
    );
    assert_eq!(
        SubjectKey::from_u128(registration.key().as_u128()),
        Some(registration.key())
    );
    assert_eq!(registration.embedded_org_code(), None);
}

#[test]
fn legacy_check_mismatches_and_faults() {
    let id = parse_as("MA18XK7P1", IdType::OrgCode).expect("read with a mismatch");
    assert_eq!(id.check(), CheckOutcome::Mismatch { expected: 'X' });
    let id = parse_as("110108000000017", IdType::RegistrationNumber).expect("mismatch");
    assert_eq!(id.check(), CheckOutcome::Mismatch { expected: '6' });
    // Fifteen digits with a real 19YYMMDD stay a resident ID unless the caller says otherwise.
    assert_eq!(ok("230202850312123").id_type(), IdType::ResidentId);
    assert_eq!(
        parse_as("230202850312123", IdType::RegistrationNumber).map(|id| id.id_type()),
        Ok(IdType::RegistrationNumber)
    );
    // Fifteen digits that are no date and fail the registration check keep the date error.
    assert_eq!(
        err("110108000000017"),
        IdError::BadLegacyBirthDate { date: 19_000_000 }
    );
    assert_eq!(
        parse_as("MA18XK7", IdType::OrgCode),
        Err(IdError::WrongLengthOf {
            len: 7,
            id_type: IdType::OrgCode
        })
    );
    assert_eq!(
        parse_as("MA18XK7PA", IdType::OrgCode)
            .expect_err("A is no check character")
            .to_string(),
        "invalid character `A` at position 9: an organisation code is eight characters 0-9 or A-Z and a check character, a digit or X"
    );
    assert_eq!(
        parse_as("11010800000001", IdType::RegistrationNumber)
            .expect_err("14 digits")
            .to_string(),
        "identifier length is 14, expected 15 digits for a registration number"
    );
    assert_eq!(
        err("MA18XK7P_X"),
        IdError::WrongLength { len: 10 },
        "ten characters without the hyphen are nothing"
    );
    // A USCC whose positions 9-17 fail the organisation check (that of MA1B2C3D is 8) embeds
    // no code.
    let body = "91230200MA1B2C3D7";
    let odd = ok(&format!("{body}{}", uscc_check(body)));
    assert_eq!(odd.check(), CheckOutcome::Valid);
    assert_eq!(odd.embedded_org_code(), None);
    assert_eq!(odd.key().embedded_org_code(), None);
    // Keys of the four types never collide.
    let keys: HashSet<SubjectKey> = [
        ok("91230202MA18XK7PXM").key(),
        ok("230202198503121238").key(),
        ok("MA18XK7PX").key(),
        ok("110108000000016").key(),
    ]
    .into();
    assert_eq!(keys.len(), 4);
}

#[test]
fn other_kinds() {
    for (body, kind) in [
        ("31350100M000100Y4", SubjectKind::OtherOrganization),
        ("94350100M000100Y4", SubjectKind::OtherOrganization),
        ("Y1350100M000100Y4", SubjectKind::OtherOrganization),
        ("N2350100M000100Y4", SubjectKind::OtherOrganization),
        ("11350100M000100Y4", SubjectKind::StateOrgan),
        ("12350100M000100Y4", SubjectKind::PublicInstitution),
        ("13350100M000100Y4", SubjectKind::MassOrganization),
        ("19350100M000100Y4", SubjectKind::PublicInstitution),
        ("53350100M000100Y4", SubjectKind::SocialOrganization),
    ] {
        let code = format!("{body}{}", uscc_check(body));
        let id = ok(&code);
        assert_eq!(id.kind(), kind, "{code}");
        assert!(id.check().is_valid());
    }
}

#[test]
fn parse_as_skips_detection() {
    // A valid resident ID read as a USCC: structurally fine, check differs.
    let id = parse_as("230202198503121238", IdType::Uscc).expect("all digits are USCC symbols");
    assert_eq!(id.id_type(), IdType::Uscc);
    assert!(!id.check().is_valid());
    assert_ne!(id.key(), ok("230202198503121238").key());
    // A USCC read as a resident ID.
    assert!(matches!(
        parse_as("91230200MA1B2C3D8T", IdType::ResidentId),
        Err(IdError::NotDigit {
            position: 9,
            ch: 'M',
            ..
        })
    ));
}

#[test]
fn key_serialisation() {
    for code in USCC_FIXTURES
        .iter()
        .map(|(c, _)| *c)
        .chain(RESIDENT_FIXTURES)
        .chain(["91350100M0001TGQXM", "230202198503121239"])
    {
        let key = ok(code).key();
        assert_eq!(SubjectKey::from_u128(key.as_u128()), Some(key), "{code}");
        assert_eq!(SubjectKey::from_words(key.to_words()), key, "{code}");
        let mut out = [0u8; 18];
        key.write_to(&mut out);
        assert_eq!(&out, code.as_bytes());
    }
    let tag = 1u128 << 127;
    let uscc_limit = 31u128.pow(18);
    let resident_limit = 10u128.pow(17) * 11;
    // Both packings leave bit 95 free for the type tag of the 96-bit form.
    assert!(uscc_limit < 1 << 95 && resident_limit < 1 << 95);
    assert_eq!(SubjectKey::from_u128(u128::MAX), None);
    assert_eq!(SubjectKey::from_u128(uscc_limit), None);
    assert_eq!(SubjectKey::from_u128(tag | resident_limit), None);
    assert_eq!(SubjectKey::from_u128(1 << 100), None);
    // In range, but the text would not parse: letters at USCC positions 3–8, a bad birth date.
    assert_eq!(SubjectKey::from_u128(uscc_limit - 1), None);
    assert_eq!(SubjectKey::from_u128(tag), None);
    assert_eq!(SubjectKey::from_u128(tag | (resident_limit - 1)), None);
    // The all-zero USCC is structurally valid.
    assert_eq!(
        SubjectKey::from_u128(0)
            .map(|k| k.to_id_string())
            .as_deref(),
        Some("000000000000000000")
    );
}

#[test]
fn key_order_follows_text_order() {
    let mut codes: Vec<&str> = USCC_FIXTURES.iter().map(|(c, _)| *c).collect();
    codes.sort_unstable();
    let keys: Vec<SubjectKey> = codes.iter().map(|c| ok(c).key()).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    let mut codes = RESIDENT_FIXTURES;
    codes.sort_unstable();
    let keys: Vec<SubjectKey> = codes.iter().map(|c| ok(c).key()).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn word_at_a_time_helpers_match_bytewise() {
    use super::normalize::{non_digits, upper_word};
    for fill in [b'0', b'9', b'a', b'Z', b' ', 0x7F] {
        for lane in 0..8 {
            for b in 0..0x80u8 {
                let mut bytes = [fill; 8];
                bytes[lane] = b;
                let word = u64::from_le_bytes(bytes);
                let expected_digits = bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| !b.is_ascii_digit())
                    .fold(0u64, |mask, (i, _)| mask | 0x80 << (8 * i));
                assert_eq!(non_digits(word), expected_digits, "{bytes:?}");
                assert_eq!(
                    upper_word(word).to_le_bytes(),
                    bytes.map(|b| b.to_ascii_uppercase()),
                    "{bytes:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

/// A valid USCC: any symbols, digits at positions 3–8, correct check.
fn valid_uscc() -> impl Strategy<Value = String> {
    prop::array::uniform17(0usize..31).prop_map(|values| {
        let body: String = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let v = if (2..8).contains(&i) { v % 10 } else { v };
                USCC_CHARS.as_bytes()[v] as char
            })
            .collect();
        let check = uscc_check(&body);
        format!("{body}{check}")
    })
}

/// A valid resident ID: any region, a real date in 1900–2099, any sequence, correct check.
fn valid_resident_id() -> impl Strategy<Value = String> {
    (
        0u32..1_000_000,
        1900u32..=2099,
        1u32..=12,
        1u32..=31,
        0u32..1000,
    )
        .prop_map(|(region, year, month, day, seq)| {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let days = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let body = format!("{region:06}{year:04}{month:02}{:02}{seq:03}", day.min(days));
            let check = resident_check(&body);
            format!("{body}{check}")
        })
}

fn valid_code() -> impl Strategy<Value = (String, IdType)> {
    prop_oneof![
        valid_uscc().prop_map(|c| (c, IdType::Uscc)),
        valid_resident_id().prop_map(|c| (c, IdType::ResidentId)),
    ]
}

/// True when `code` also reads as a valid resident ID (detection then prefers that reading).
fn is_valid_resident(code: &str) -> bool {
    parse_as(code, IdType::ResidentId).is_ok_and(|id| id.check().is_valid())
}

/// What parsing should give, written plainly from the spec (no tables, no word tricks).
type Outcome = Result<(String, IdType, CheckOutcome), IdError>;

fn reference(raw: &str, id_type: Option<IdType>) -> Outcome {
    let chars: Vec<char> = raw
        .trim()
        .chars()
        .map(|c| match u32::from(c) {
            0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).expect("ascii"),
            0x3000 => ' ',
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if chars.is_empty() {
        return Err(IdError::Empty);
    }
    match id_type {
        Some(IdType::OrgCode) => return reference_org_code(&chars),
        Some(IdType::RegistrationNumber) => return reference_registration(&chars),
        _ => {}
    }
    if chars.len() == 15 && chars.iter().all(char::is_ascii_digit) {
        let upgraded = reference_upgrade(&chars, id_type);
        // Fifteen digits that are no resident ID may be a registration number.
        if let (None, Err(IdError::BadLegacyBirthDate { .. })) = (id_type, &upgraded) {
            if let registration @ Ok((_, _, CheckOutcome::Valid)) = reference_registration(&chars) {
                return registration;
            }
        }
        return upgraded;
    }
    let hyphenated = chars.len() == 10 && chars[8] == '-';
    if id_type.is_none() && (chars.len() == 9 || hyphenated) {
        return reference_org_code(&chars);
    }
    if chars.len() != 18 {
        return Err(IdError::WrongLength { len: chars.len() });
    }
    let text: String = chars.iter().collect();
    match id_type {
        Some(IdType::Uscc) => return reference_uscc(&chars, text),
        Some(IdType::ResidentId) => return reference_resident(&chars, text),
        Some(IdType::OrgCode | IdType::RegistrationNumber) | None => {}
    }
    let shaped = chars[..17].iter().all(char::is_ascii_digit)
        && (chars[17].is_ascii_digit() || chars[17] == 'X');
    if !shaped {
        return reference_uscc(&chars, text);
    }
    let resident = reference_resident(&chars, text.clone());
    if resident.is_ok() {
        return resident;
    }
    match reference_uscc(&chars, text) {
        uscc @ Ok((_, _, CheckOutcome::Valid)) => uscc,
        _ => resident,
    }
}

/// Fifteen digits: `19` before the year, a date of the 1900s, the check character computed.
fn reference_upgrade(chars: &[char], id_type: Option<IdType>) -> Outcome {
    if id_type == Some(IdType::Uscc) {
        return Err(IdError::WrongLength { len: 15 });
    }
    let given: String = chars.iter().collect();
    let body = format!("{}19{}", &given[..6], &given[6..]);
    match reference_resident(
        &format!("{body}0").chars().collect::<Vec<_>>(),
        format!("{body}0"),
    ) {
        Err(IdError::BadBirthDate { date }) => Err(IdError::BadLegacyBirthDate { date }),
        Err(other) => Err(other),
        Ok(_) => Ok((
            format!("{body}{}", resident_check(&body)),
            IdType::ResidentId,
            CheckOutcome::Valid,
        )),
    }
}

/// GB 11714-1997: eight characters 0-9, A-Z, then `11 - (Σ v·w mod 11)` with 10 as X, 11 as 0.
fn org_check(body: &str) -> char {
    let weights = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(weights)
        .map(|(c, w)| c.to_digit(36).expect("0-9 or A-Z") * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        c => char::from_digit(c, 10).expect("below 10"),
    }
}

/// ISO 7064 MOD 11,10 over the 14 body digits of a registration number.
fn registration_check(body: &str) -> char {
    let mut p = 10;
    for d in body.chars().map(|c| c.to_digit(10).expect("digit")) {
        let s = (p + d) % 10;
        p = if s == 0 { 10 } else { s } * 2 % 11;
    }
    char::from_digit((11 - p) % 10, 10).expect("below 10")
}

fn reference_org_code(chars: &[char]) -> Outcome {
    let mut chars = chars.to_vec();
    if chars.len() == 10 && chars[8] == '-' {
        chars.remove(8);
    }
    let id_type = IdType::OrgCode;
    if chars.len() != 9 {
        return Err(IdError::WrongLengthOf {
            len: chars.len(),
            id_type,
        });
    }
    for (i, &ch) in chars.iter().enumerate() {
        let fits = if i < 8 {
            ch.is_ascii_digit() || ch.is_ascii_uppercase()
        } else {
            ch.is_ascii_digit() || ch == 'X'
        };
        if !fits {
            return Err(IdError::InvalidChar {
                position: i as u8 + 1,
                ch,
                id_type,
            });
        }
    }
    let text: String = chars.iter().collect();
    let expected = org_check(&text[..8]);
    let check = if chars[8] == expected {
        CheckOutcome::Valid
    } else {
        CheckOutcome::Mismatch { expected }
    };
    Ok((text, id_type, check))
}

fn reference_registration(chars: &[char]) -> Outcome {
    let id_type = IdType::RegistrationNumber;
    if chars.len() != 15 {
        return Err(IdError::WrongLengthOf {
            len: chars.len(),
            id_type,
        });
    }
    if let Some(i) = chars.iter().position(|c| !c.is_ascii_digit()) {
        return Err(IdError::NotDigit {
            position: i as u8 + 1,
            ch: chars[i],
            id_type,
        });
    }
    let text: String = chars.iter().collect();
    let expected = registration_check(&text[..14]);
    let check = if chars[14] == expected {
        CheckOutcome::Valid
    } else {
        CheckOutcome::Mismatch { expected }
    };
    Ok((text, id_type, check))
}

fn reference_uscc(chars: &[char], text: String) -> Outcome {
    for (i, &ch) in chars.iter().enumerate() {
        let position = i as u8 + 1;
        let id_type = IdType::Uscc;
        if !USCC_CHARS.contains(ch) || !ch.is_ascii() {
            return Err(IdError::InvalidChar {
                position,
                ch,
                id_type,
            });
        }
        if (3..=8).contains(&position) && !ch.is_ascii_digit() {
            return Err(IdError::NotDigit {
                position,
                ch,
                id_type,
            });
        }
    }
    let expected = uscc_check(&text[..17]);
    let check = if chars[17] == expected {
        CheckOutcome::Valid
    } else {
        CheckOutcome::Mismatch { expected }
    };
    Ok((text, IdType::Uscc, check))
}

fn reference_resident(chars: &[char], text: String) -> Outcome {
    let id_type = IdType::ResidentId;
    for (i, &ch) in chars[..17].iter().enumerate() {
        if !ch.is_ascii_digit() {
            return Err(IdError::NotDigit {
                position: i as u8 + 1,
                ch,
                id_type,
            });
        }
    }
    if !(chars[17].is_ascii_digit() || chars[17] == 'X') {
        return Err(IdError::InvalidChar {
            position: 18,
            ch: chars[17],
            id_type,
        });
    }
    let date: u32 = text[6..14].parse().expect("digits");
    let (year, month, day) = (date / 10_000, date / 100 % 100, date % 100);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid_date = (1900..=2099).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= month_days[month as usize - 1];
    if !valid_date {
        return Err(IdError::BadBirthDate { date });
    }
    let expected = resident_check(&text[..17]);
    let check = if chars[17] == expected {
        CheckOutcome::Valid
    } else {
        CheckOutcome::Mismatch { expected }
    };
    Ok((text, id_type, check))
}

fn outcome(result: Result<SubjectId, IdError>) -> Outcome {
    result.map(|id| (id.as_str().to_owned(), id.id_type(), id.check()))
}

/// Arbitrary text near the identifier space: mostly digits, identifier letters, `X`, and a few
/// characters that must be folded or refused.
fn near_identifier() -> impl Strategy<Value = String> {
    const POOL: &[char] = &[
        '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '1', '2', '9', 'X', 'x', 'A', 'M',
        'Y', 'T', 'a', 'I', 'O', 'S', 'V', 'Z', ' ', '\t', '\u{3000}', '０', '９', 'Ｘ', 'ｙ',
        '中', 'é', '\0', '*', '/',
    ];
    let random = prop::collection::vec(prop::sample::select(POOL), 15..=20)
        .prop_map(|chars| chars.into_iter().collect::<String>());
    let mutated = (
        valid_code(),
        any::<prop::sample::Index>(),
        prop::sample::select(POOL),
    )
        .prop_map(|((code, _), index, c)| {
            let mut chars: Vec<char> = code.chars().collect();
            let i = index.index(chars.len());
            chars[i] = c;
            chars.into_iter().collect::<String>()
        });
    prop_oneof![random, mutated]
}

/// The full-width spelling of an ASCII text.
fn widen(code: &str) -> String {
    code.chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c))
        .collect()
}

/// Inputs at the edge of the fast path: valid codes as they are, lower-cased or full-width, with
/// one character replaced by any ASCII character, arbitrary runs of the USCC alphabet, and text
/// near the identifier space.
fn fast_path_input() -> impl Strategy<Value = String> {
    let replaced = (valid_code(), 0usize..18, 0u8..0x80).prop_map(|((code, _), i, b)| {
        let mut bytes = code.into_bytes();
        bytes[i] = b;
        String::from_utf8(bytes).expect("ascii")
    });
    let symbols: Vec<char> = USCC_CHARS.chars().collect();
    prop_oneof![
        valid_code().prop_map(|(code, _)| code),
        valid_code().prop_map(|(code, _)| code.to_ascii_lowercase()),
        valid_code().prop_map(|(code, _)| widen(&code)),
        replaced,
        prop::collection::vec(prop::sample::select(symbols), 17..=19)
            .prop_map(|chars| chars.into_iter().collect::<String>()),
        near_identifier(),
    ]
}

proptest! {
    #[test]
    fn the_fast_path_agrees_with_the_general_one(raw in fast_path_input()) {
        let general = parse_general(&raw);
        prop_assert_eq!(parse(&raw), general, "{:?}", raw);
        match fast::parse(raw.as_bytes()) {
            Some(id) => prop_assert_eq!(Ok(id), general, "{:?}", raw),
            // Left to the general path: other spellings, faults, and the all-digit USCCs that
            // have a resident ID's shape.
            None => {
                let normalised = raw.len() == LEN && raw.chars().all(|c| USCC_CHARS.contains(c));
                let resident_shaped = raw.bytes().take(LEN - 1).all(|b| b.is_ascii_digit());
                let uscc = general.is_ok_and(|id| id.id_type() == IdType::Uscc);
                prop_assert!(
                    !normalised || general.is_err() || resident_shaped && uscc,
                    "{:?} missed the fast path", raw
                );
            }
        }
    }

    #[test]
    fn first_generation_form_upgrades_to_itself(
        code in valid_resident_id().prop_filter("born 1900-1999", |c| c[6..8] == *"19")
    ) {
        let legacy = format!("{}{}", &code[..6], &code[8..17]);
        let id = parse(&legacy).map_err(|e| TestCaseError::fail(format!("{legacy}: {e}")))?;
        prop_assert_eq!(id.as_str(), code.as_str());
        prop_assert!(id.upgraded());
        prop_assert_eq!(id.check(), CheckOutcome::Valid);
    }

    #[test]
    fn parsing_agrees_with_the_reference(raw in near_identifier()) {
        prop_assert_eq!(outcome(parse(&raw)), reference(&raw, None), "{:?}", raw);
        for id_type in [IdType::Uscc, IdType::ResidentId, IdType::OrgCode, IdType::RegistrationNumber] {
            prop_assert_eq!(
                outcome(parse_as(&raw, id_type)),
                reference(&raw, Some(id_type)),
                "{:?} as {}", raw, id_type
            );
        }
    }

    #[test]
    fn valid_codes_round_trip((code, id_type) in valid_code()) {
        let fail = |e: IdError| TestCaseError::fail(format!("{code}: {e}"));
        let explicit = parse_as(&code, id_type).map_err(fail)?;
        prop_assert_eq!(explicit.check(), CheckOutcome::Valid);
        let id = parse(&code).map_err(fail)?;
        let detected = if id_type == IdType::Uscc && is_valid_resident(&code) {
            IdType::ResidentId
        } else {
            id_type
        };
        prop_assert_eq!(id.id_type(), detected);
        prop_assert_eq!(id.key().id_type(), detected);
        prop_assert_eq!(id.check(), CheckOutcome::Valid);
        prop_assert_eq!(id.as_str(), code.as_str());
        prop_assert_eq!(id.key().to_id_string(), code.clone());
        prop_assert_eq!(SubjectKey::from_u128(id.key().as_u128()), Some(id.key()));
        let expected_kind = match (detected, &code.as_bytes()[..2]) {
            (IdType::ResidentId, _) => SubjectKind::Person,
            (IdType::Uscc, b"91") => SubjectKind::Enterprise,
            (IdType::Uscc, b"92") => SubjectKind::IndividualBusiness,
            (IdType::Uscc, b"93") => SubjectKind::FarmerCooperative,
            (IdType::Uscc, b"11") => SubjectKind::StateOrgan,
            (IdType::Uscc, b"13") => SubjectKind::MassOrganization,
            (IdType::Uscc, [b'1', _]) => SubjectKind::PublicInstitution,
            (IdType::Uscc, [b'5', _]) => SubjectKind::SocialOrganization,
            (IdType::Uscc, _) => SubjectKind::OtherOrganization,
            (IdType::OrgCode | IdType::RegistrationNumber, _) => SubjectKind::Organization,
        };
        prop_assert_eq!(id.kind(), expected_kind);
        // Lower case and full-width spellings give the same identifier.
        let lower = code.to_ascii_lowercase();
        prop_assert_eq!(parse(&lower).ok(), Some(id));
        prop_assert_eq!(parse(&format!("\u{3000}{} ", widen(&code))).ok(), Some(id));
    }

    #[test]
    fn single_substitutions_are_caught(
        (code, id_type) in valid_code(),
        position in 0usize..18,
        shift in 1usize..31,
    ) {
        let alphabet = match id_type {
            IdType::Uscc => USCC_CHARS,
            _ => RESIDENT_CHARS,
        };
        let n = alphabet.len();
        let mut bytes = code.clone().into_bytes();
        let old = alphabet.bytes().position(|b| b == bytes[position]).expect("in alphabet");
        bytes[position] = alphabet.as_bytes()[(old + 1 + shift % (n - 1)) % n];
        let changed = String::from_utf8(bytes).expect("ascii");
        prop_assert_ne!(&changed, &code);
        let original = parse_as(&code, id_type).map(|id| id.key()).ok();
        if let Ok(id) = parse_as(&changed, id_type) {
            prop_assert!(!id.check().is_valid(), "{} -> {} passed as {}", code, changed, id_type);
            prop_assert_ne!(Some(id.key()), original);
        }
        if let Ok(id) = parse(&changed) {
            prop_assert!(
                id.id_type() != id_type || !id.check().is_valid(),
                "{} -> {} passed as {}", code, changed, id_type
            );
            prop_assert_ne!(Some(id.key()), original);
        }
    }

    #[test]
    fn distinct_codes_have_distinct_keys(codes in prop::collection::vec(valid_code(), 2..64)) {
        let texts: HashSet<&str> = codes.iter().map(|(c, _)| c.as_str()).collect();
        let keys: HashSet<SubjectKey> = codes
            .iter()
            .filter_map(|(c, t)| parse_as(c, *t).ok())
            .map(|id| id.key())
            .collect();
        prop_assert_eq!(keys.len(), texts.len());
        let raw: HashSet<u128> = keys.iter().map(|k| k.as_u128()).collect();
        prop_assert_eq!(raw.len(), texts.len());
    }
}
