import Foundation

/// A validated Chinese identity number (GB 11643-1999), a residence permit for Hong Kong, Macao
/// or Taiwan residents, or a 2023 foreigner permanent-residence number; always 18 characters.
///
/// It is personal data: `description` and reflection show only the masked form, so an
/// `IdentityNumber` that slips into a log line or an error does not leak.
public struct IdentityNumber: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// What kind of number was presented.
    public enum Kind: String, Sendable, Codable {
        case mainland
        case legacy15 = "legacy-15"
        case hk, mo, tw
        case foreignPermanentResident = "foreign-pr"
    }

    /// Why a number was refused; the raw values are the stable reasons clients see.
    public enum Rejection: String, Error, Sendable, Codable, CaseIterable {
        case length, character, region, date
        case futureDate = "future-date"
        case checksum
    }

    public enum Sex: String, Sendable, Codable { case male, female }

    /// The 18-character form, upper-case `X`. Personal data: store only its keyed hash.
    public let normalized: String
    public let kind: Kind
    public let birthDate: CivilDate
    public let sex: Sex

    /// Province codes (first two digits) of GB/T 2260, and 71 for Taiwan.
    static let provinces: Set<String> = [
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    ]
    static let permitPrefixes: [String: Kind] = ["810000": .hk, "820000": .mo, "830000": .tw]
    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkCharacters: [Character] = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]

    /// Parses and validates `input`. Spaces are ignored and a lower-case `x` is accepted;
    /// a 15-digit legacy number is upgraded to 18. Dates after `today` are refused.
    public init(parsing input: String, today: CivilDate) throws(Rejection) {
        let compact = input.filter { $0 != " " && $0 != "\t" && $0 != "\u{3000}" }.uppercased()
        let characters = Array(compact)
        guard characters.count == 18 || characters.count == 15 else { throw .length }
        let isLegacy = characters.count == 15
        let digitsPart = isLegacy ? characters[...] : characters[..<17]
        guard digitsPart.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw .character }
        if !isLegacy {
            let last = characters[17]
            guard (last.isASCII && last.isNumber) || last == "X" else { throw .character }
        }

        let prefix6 = String(characters[0..<6])
        let kind: Kind
        if isLegacy {
            guard Self.provinces.contains(String(characters[0..<2])) else { throw .region }
            kind = .legacy15
        } else if let permit = Self.permitPrefixes[prefix6] {
            kind = permit
        } else if characters[0] == "9" {
            guard Self.provinces.contains(String(characters[1..<3])), characters[1] != "7" else { throw .region }
            kind = .foreignPermanentResident
        } else {
            guard Self.provinces.contains(String(characters[0..<2])) else { throw .region }
            kind = .mainland
        }

        let seventeen = isLegacy ? Array(prefix6) + ["1", "9"] + Array(characters[6..<15]) : Array(characters[0..<17])
        guard let year = Int(String(seventeen[6..<10])), let month = Int(String(seventeen[10..<12])),
            let day = Int(String(seventeen[12..<14])), let birth = CivilDate(year: year, month: month, day: day),
            year >= 1900
        else { throw .date }
        guard birth <= today else { throw .futureDate }

        let check = Self.checkCharacter(for: seventeen)
        if !isLegacy && characters[17] != check { throw .checksum }

        self.normalized = String(seventeen) + String(check)
        self.kind = kind
        self.birthDate = birth
        self.sex = Int(String(seventeen[16]))! % 2 == 1 ? .male : .female
    }

    /// The ISO 7064 MOD 11-2 check character of the first 17 digits.
    public static func checkCharacter(for first17: [Character]) -> Character {
        precondition(first17.count == 17)
        var sum = 0
        for (digit, weight) in zip(first17, weights) { sum += Int(String(digit))! * weight }
        return checkCharacters[sum % 11]
    }

    /// The 18-character number for a division code, a birth date and a 3-digit sequence, with its check character.
    public static func compose(region: String, birthDate: CivilDate, sequence: String) -> String {
        let seventeen = Array(region + birthDate.description.replacingOccurrences(of: "-", with: "") + sequence)
        return String(seventeen) + String(checkCharacter(for: seventeen))
    }

    /// First four and last four characters, the birth date hidden: `1101**********123X`.
    public var masked: String { PersonalData.maskIdentityNumber(normalized) }

    public var description: String { masked }
    public var customMirror: Mirror { Mirror(self, children: ["masked": masked, "kind": kind.rawValue]) }
}
