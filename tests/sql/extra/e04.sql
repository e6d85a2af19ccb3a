-- a correlated scalar subquery in the select list, CASE, CAST, COALESCE
select p_size,
       (select max(ps_supplycost) from partsupp where ps_partkey = p_partkey) as top_cost,
       case when p_retailprice > 1500 then 'high' else 'low' end as band,
       cast(p_retailprice as integer) as whole,
       coalesce(nullif(p_container, 'SM BOX'), 'small box') as container
from part
where p_partkey < 40
order by p_partkey;
