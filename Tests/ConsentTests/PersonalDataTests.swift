import Consent
import Crypto
import Foundation
import Testing
import ThrowawayPostgres

@Suite("Keyed hashes and masks", .timeLimit(.minutes(5)))
struct PersonalDataTests {
    let today = CivilDate(year: 2026, month: 11, day: 29)!

    @Test("the subject key is HMAC-SHA-256 of the normalized number under the secret")
    func subjectKey() throws {
        let secret = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))
        let data = PersonalData(secret: secret)
        let upper = try IdentityNumber(parsing: "11010519491231002X", today: today)
        let legacy = try IdentityNumber(parsing: "110105491231002", today: today)
        let expected = Array(HMAC<SHA256>.authenticationCode(for: Array("11010519491231002X".utf8), using: secret))
        #expect(data.subjectKey(upper).bytes == expected)
        #expect(data.subjectKey(legacy) == data.subjectKey(upper))
        let other = PersonalData(secret: SymmetricKey(data: Array(repeating: UInt8(8), count: 32)))
        #expect(other.subjectKey(upper) != data.subjectKey(upper))
        #expect(!"\(data.subjectKey(upper))".contains("19491231"))
    }

    @Test("names are hashed after whitespace normalization")
    func nameHash() {
        let data = PersonalData(secret: SymmetricKey(size: .bits256))
        #expect(data.nameHash(" 王  秀英 ") == data.nameHash("王秀英"))
        #expect(data.nameHash("John  Smith") == data.nameHash("John Smith"))
        #expect(data.nameHash("John Smith") != data.nameHash("JohnSmith"))
        #expect(data.nameHash("王秀英") != data.nameHash("王秀华"))
        #expect(data.nameHash("王秀英").count == 32)
    }

    @Test(
        "names are masked by length",
        arguments: [
            ("张", "*"), ("张伟", "张*"), ("王秀英", "王*英"), ("欧阳娜娜", "欧**娜"), ("  李  明 ", "李*"), ("John  Smith", "J********h"), ("", ""),
        ])
    func maskName(_ name: String, _ masked: String) {
        #expect(PersonalData.maskName(name) == masked)
    }

    @Test("ID numbers are masked to their first and last four characters")
    func maskID() {
        #expect(PersonalData.maskIdentityNumber("11010519491231002X") == "1101**********002X")
    }

    @Test("a hash under version 2 is HMAC under its secret of the hash under version 1, for keys, names and tokens alike")
    func versionChain() throws {
        let first = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))
        let second = SymmetricKey(data: Array(repeating: UInt8(8), count: 32))
        let ring = ServerSecretRing([ServerSecretVersion(number: 1, key: first, activatesAt: 0)])
        let data = PersonalData(ring: ring)
        let id = try IdentityNumber(parsing: "11010519491231002X", today: today)
        let before = data.subjectKey(id)
        let name = data.nameHash("王秀英")
        let token = ConsentToken.random()
        let tokenBefore = data.tokenHash(token)

        #expect(!ring.update([ServerSecretVersion(number: 3, key: second, activatesAt: 0)]), "a gap is refused")
        #expect(
            ring.update([ServerSecretVersion(number: 1, key: first, activatesAt: 0), ServerSecretVersion(number: 2, key: second, activatesAt: 0)]))
        #expect(!ring.update([ServerSecretVersion(number: 1, key: first, activatesAt: 0)]), "a version is never taken back")

        let after = data.subjectKey(id)
        #expect(after.version == 2 && data.currentVersion == 2)
        #expect(after.bytes == Array(HMAC<SHA256>.authenticationCode(for: before.bytes, using: second)))
        #expect(after.lookupBytes == [after.bytes, before.bytes])
        #expect(after.matches(before) && after != before)
        #expect(data.nameHash("王秀英") == Array(HMAC<SHA256>.authenticationCode(for: name, using: second)))
        #expect(data.nameHash("王秀英", version: 1) == name && data.nameHash("王秀英", version: 3) == nil)
        #expect(data.tokenHashes(token) == [data.tokenHash(token), tokenBefore])
        #expect(data.subjectKeyUnderEveryVersion(id).lookupBytes == [after.bytes, before.bytes])
    }
}
