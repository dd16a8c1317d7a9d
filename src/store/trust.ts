import type pg from 'pg';

/**
 * quietcut runs SQL in its own schema with a role that is often a superuser. Any object there that
 * another role can change (own, replace, hang a trigger on, create beside) would let that role run
 * code as quietcut's role (CVE-2018-1058 is the search_path flavour of the same attack). So every
 * session pins its search_path, and before quietcut touches the schema it checks who can change it.
 */

/** libpq/node-postgres `options` for every quietcut session: only pg_catalog, then our own temp schema. */
export const SAFE_SESSION_OPTIONS = '-c search_path=pg_catalog,pg_temp';

/** The schema exists but another role can change it or something in it. */
export class UntrustedSchemaError extends Error {
  constructor(
    readonly role: string,
    readonly problems: readonly string[],
  ) {
    super(
      `refusing to use schema quietcut: ${problems.join('; ')}. quietcut runs SQL there as role ${role}, so only ${role} (or a superuser) may own or change it. ` +
        `Drop or fix these objects (as a superuser: ALTER ... OWNER TO ${role}, DROP TRIGGER ..., REVOKE ...) and start again.`,
    );
    this.name = 'UntrustedSchemaError';
  }
}

interface Problem {
  problem: string;
}

/**
 * Everything in schema quietcut that a role other than the current one (and not a superuser) could
 * change: the schema's and each object's owner, CREATE on the schema, TRIGGER on its tables, and
 * triggers or rules that quietcut did not put there. Empty when the schema does not exist.
 */
export async function untrustedObjects(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<Problem>(
    `WITH me AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user),
          ns AS (SELECT oid, nspowner, nspacl FROM pg_catalog.pg_namespace WHERE nspname = 'quietcut'),
          trusted AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolsuper OR oid = (SELECT oid FROM me))
     SELECT format('the schema is owned by role %I', pg_catalog.pg_get_userbyid(ns.nspowner)) AS problem
       FROM ns WHERE ns.nspowner NOT IN (SELECT oid FROM trusted)
     UNION ALL
     SELECT format('role %I may create objects in the schema', pg_catalog.pg_get_userbyid(a.grantee))
       FROM ns, pg_catalog.aclexplode(ns.nspacl) a
      WHERE a.privilege_type = 'CREATE' AND a.grantee NOT IN (SELECT oid FROM trusted)
     UNION ALL
     SELECT format('%s quietcut.%I is owned by role %I', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'i' THEN 'index' ELSE 'relation' END,
                   c.relname, pg_catalog.pg_get_userbyid(c.relowner))
       FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid
      WHERE c.relowner NOT IN (SELECT oid FROM trusted) AND c.relkind <> 'i'
     UNION ALL
     SELECT format('role %I may create triggers on quietcut.%I', pg_catalog.pg_get_userbyid(a.grantee), c.relname)
       FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid, pg_catalog.aclexplode(c.relacl) a
      WHERE a.privilege_type = 'TRIGGER' AND a.grantee NOT IN (SELECT oid FROM trusted)
     UNION ALL
     SELECT format('quietcut.%I has trigger %I calling %s (owned by role %I)', c.relname, t.tgname, t.tgfoid::pg_catalog.regproc, pg_catalog.pg_get_userbyid(p.proowner))
       FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN ns ON c.relnamespace = ns.oid
       JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
      WHERE NOT t.tgisinternal AND p.proowner NOT IN (SELECT oid FROM trusted)
     UNION ALL
     SELECT format('quietcut.%I has rule %I', c.relname, r.rulename)
       FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN ns ON c.relnamespace = ns.oid
      WHERE r.rulename <> '_RETURN'
     UNION ALL
     SELECT format('function quietcut.%I is owned by role %I', p.proname, pg_catalog.pg_get_userbyid(p.proowner))
       FROM pg_catalog.pg_proc p JOIN ns ON p.pronamespace = ns.oid
      WHERE p.proowner NOT IN (SELECT oid FROM trusted)
     UNION ALL
     SELECT format('type quietcut.%I is owned by role %I', t.typname, pg_catalog.pg_get_userbyid(t.typowner))
       FROM pg_catalog.pg_type t JOIN ns ON t.typnamespace = ns.oid
      -- a table's row type and array types belong to their table or element: reported there
      WHERE t.typowner NOT IN (SELECT oid FROM trusted) AND t.typrelid = 0 AND NOT (t.typcategory = 'A' AND t.typelem <> 0)
     UNION ALL
     SELECT format('%s %I in schema quietcut is owned by role %I', o.kind, o.name, pg_catalog.pg_get_userbyid(o.owner))
       FROM ns, LATERAL (
         SELECT 'operator' AS kind, oprname::text AS name, oprowner AS owner FROM pg_catalog.pg_operator WHERE oprnamespace = ns.oid
         UNION ALL SELECT 'collation', collname::text, collowner FROM pg_catalog.pg_collation WHERE collnamespace = ns.oid
         UNION ALL SELECT 'conversion', conname::text, conowner FROM pg_catalog.pg_conversion WHERE connamespace = ns.oid
       ) o
      WHERE o.owner NOT IN (SELECT oid FROM trusted)`,
  );
  return rows.map((r) => r.problem);
}

/** Throw UntrustedSchemaError when untrustedObjects finds anything. */
export async function assertSchemaTrusted(client: pg.ClientBase): Promise<void> {
  const problems = await untrustedObjects(client);
  if (problems.length === 0) return;
  const { rows } = await client.query<{ me: string }>('SELECT current_user AS me');
  throw new UntrustedSchemaError(rows[0]?.me ?? '?', problems);
}
