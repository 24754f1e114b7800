-- Every function and procedure of schemas public and analytics runs with a pinned search_path
-- (pg_catalog first): a look-alike of a built-in can never be picked up from the caller's path
-- (the CVE-2018-1058 pattern). Applied last at every upgrade, so a function redefined without a
-- SET clause gets it back. Exempt: functions with an SQL-standard body (`return ...`, `begin
-- atomic`), whose names are bound when they are created, and extension members.
do $$
declare
    routine record;
begin
    for routine in
        select p.oid::pg_catalog.regprocedure as signature,
               case p.prokind when 'p' then 'procedure' else 'function' end as kind, n.nspname as schema
          from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
         where n.nspname operator(pg_catalog.=) any (array['public', 'analytics'])
           and p.prokind operator(pg_catalog.=) any (array['f'::"char", 'p'::"char"])
           and p.prosqlbody is null
           and not exists (select from pg_catalog.pg_depend d
                            where d.classid operator(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                              and d.objid operator(pg_catalog.=) p.oid and d.deptype operator(pg_catalog.=) 'e')
           and not exists (select from pg_catalog.unnest(p.proconfig) setting
                            where setting operator(pg_catalog.=) any (array[
                                'search_path=pg_catalog, public, pg_temp',
                                'search_path=pg_catalog, analytics, public, pg_temp']))
    loop
        execute pg_catalog.format('alter %s %s set search_path = %s', routine.kind, routine.signature,
                                  case when routine.schema operator(pg_catalog.=) 'analytics'
                                       then 'pg_catalog, analytics, public, pg_temp'
                                       else 'pg_catalog, public, pg_temp' end);
    end loop;
end;
$$;
