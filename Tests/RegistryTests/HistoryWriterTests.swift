import Foundation
import Registry
import Rights
import TestSupport
import Testing
import Watermark

/// The history role (schema 0005): the append paths run as it, and it can append but never
/// rewrite, even with the append-only triggers disabled.
@Suite struct HistoryWriterTests {
    static let history = ["policy_versions", "verifications", "watermark_ledger"]
    /// One UPDATE per table the role can read; none may run.
    static let updates = [
        "UPDATE policy_versions SET source = 'forged'", "UPDATE verifications SET decision = 'allow'",
        "UPDATE watermark_ledger SET certificate = '\\x00'", "UPDATE policies SET target = 'forged'",
        "UPDATE rights_holders SET name = 'forged'", "UPDATE tracks SET title = 'forged'",
    ]

    let db: PostgresConnection
    let key: SigningKey

    init() throws {
        db = try PostgresConnection(connectionString: TestDatabase.create())
        key = try SigningKey.generate()
    }

    func appendEach(_ db: PostgresConnection, holder: String = "Label A") throws {
        _ = try Ledger(db).append { serial, previous in
            try LedgerRow.make(serial: serial, issuedAtMilliseconds: 1_800_000_000_000 + Int64(serial), certificate: [1, 2, 3],
                               previous: previous, signingKey: key)
        }
        let target = PolicyTarget(kind: .content, value: String(repeating: "ab", count: 32))
        _ = try RightsStore(db).apply([PolicyChange(target: target, holder: holder, rules: [Rule(territories: .worldwide, actions: [.remix: .block])],
                                                    origin: "test")], source: "test", dryRun: false)
        _ = try RightsStore(db).recordVerification(peerUID: 1, peerGID: 1, peerPID: 1, use: "remix", territory: "SE", evaluatedAt: Date(),
                                                   audioSHA256: [UInt8](repeating: 9, count: 32), decision: "block", segmentsJSON: "[]")
    }

    /// Runs `sql` as the role in a transaction that is rolled back; the SQLSTATE it failed with.
    func asWriter(_ sql: String) throws -> String? {
        try db.execute("BEGIN")
        defer { try? db.execute("ROLLBACK") }
        try db.execute("SET LOCAL ROLE \(HistoryWriter.role)")
        do { try db.execute(sql) } catch let RegistryError.statement(_, state) { return state }
        return nil
    }

    func count(_ table: String) throws -> Int64 { try db.query("SELECT count(*) FROM \(table)").rows[0][0].int ?? -1 }

    @Test func theRoleAppendsButCannotRewriteEvenWithTheTriggersOff() throws {
        #expect(try HistoryWriter.problem(db) == nil)
        try appendEach(db)
        for table in Self.history { try db.execute("ALTER TABLE \(table) DISABLE TRIGGER \(table)_append_only") }
        // The triggers are off: the owner could now rewrite history; the role cannot.
        try db.execute("BEGIN")
        try db.execute(Self.updates[2])
        try db.execute("ROLLBACK")
        for update in Self.updates {
            #expect(try asWriter(update) == "42501", "\(update)")
        }
        for table in Self.history + ["policies", "rights_holders", "tracks"] {
            #expect(try asWriter("DELETE FROM \(table)") == "42501", "DELETE FROM \(table)")
            #expect(try asWriter("TRUNCATE \(table)") == "42501", "TRUNCATE \(table)")
        }
        #expect(try asWriter("SELECT setval('watermark_serials', 1)") == "42501")
        #expect(try asWriter("INSERT INTO fingerprints VALUES (1, 1, 1)") == "42501")
        #expect(try asWriter("ALTER TABLE watermark_ledger ENABLE TRIGGER watermark_ledger_append_only") == "42501")
        // Appending still works, and nothing was changed.
        try appendEach(db, holder: "Label B")
        #expect(try count("watermark_ledger") == 2 && count("verifications") == 2 && count("policy_versions") == 2)
        #expect(try LedgerChain.firstBreak(Ledger(db).rows(), verifyingKeys: [key.id.hex: key.publicKey]) == nil)
    }

    @Test func theAppendPathsRunAsTheRole() throws {
        // Take INSERT away from the role alone: every append path must now be refused.
        for table in Self.history { try db.execute("REVOKE INSERT ON \(table) FROM \(HistoryWriter.role)") }
        #expect(throws: RegistryError.self) {
            _ = try Ledger(db).append { serial, previous in
                try LedgerRow.make(serial: serial, issuedAtMilliseconds: 0, certificate: [1], previous: previous, signingKey: key)
            }
        }
        #expect(throws: RegistryError.self) {
            _ = try RightsStore(db).recordVerification(peerUID: nil, peerGID: nil, peerPID: nil, use: "remix", territory: "SE", evaluatedAt: Date(),
                                                       audioSHA256: [UInt8](repeating: 9, count: 32), decision: "allow", segmentsJSON: "[]")
        }
        let target = PolicyTarget(kind: .isrc, value: "ZZTMK2600001")
        #expect(throws: RegistryError.self) {
            _ = try RightsStore(db).apply([PolicyChange(target: target, holder: "L", rules: [], origin: "test")], source: "t", dryRun: false)
        }
        #expect(try count("watermark_ledger") == 0 && count("verifications") == 0 && count("policy_versions") == 0)
        #expect(try count("policies") == 0, "the failed import left nothing behind")
    }

    @Test func theCallersTransactionGetsItsRoleBack() throws {
        let target = PolicyTarget(kind: .isrc, value: "ZZTMK2600001")
        let user = try db.transaction { () -> String? in
            _ = try RightsStore(db).applyInTransaction([PolicyChange(target: target, holder: "L", rules: [], origin: "test")], source: "t")
            return try db.query("SELECT current_user").rows[0][0].text
        }
        #expect(user == EmbeddedCluster.superuser)
        #expect(try count("policy_versions") == 1)
    }

    @Test func aUserThatMayNotCreateRolesAppendsAsItselfUntilGrantedTheRole() throws {
        let (url, user) = try TestDatabase.createUnprivileged()
        let app = try PostgresConnection(connectionString: url)
        try Migrator.bundled().migrate(app)
        let problem = try #require(try HistoryWriter.prepare(app))
        #expect(problem.contains("\(user) is not a member of the role \(HistoryWriter.role)"), "\(problem)")
        // Appends still work, as the connecting user, and the triggers still refuse changes.
        try appendEach(app)
        #expect(throws: RegistryError.self) { try app.execute("DELETE FROM watermark_ledger") }

        // An administrator grants the role; the next open grants it its privileges.
        try TestDatabase.superuser().execute("GRANT \(HistoryWriter.role) TO \(user)")
        #expect(try HistoryWriter.prepare(app) == nil)
        try appendEach(app, holder: "Label B")
        try app.execute("REVOKE INSERT ON verifications FROM \(HistoryWriter.role)")
        #expect(throws: RegistryError.self) {
            _ = try RightsStore(app).recordVerification(peerUID: nil, peerGID: nil, peerPID: nil, use: "remix", territory: "SE", evaluatedAt: Date(),
                                                        audioSHA256: [UInt8](repeating: 9, count: 32), decision: "allow", segmentsJSON: "[]")
        }
    }
}
