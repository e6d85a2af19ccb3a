-- RIGHT JOIN, COUNT(DISTINCT) beside plain aggregates
select n_regionkey, count(*) as n, count(distinct c_mktsegment) as segments,
       sum(c_acctbal) as total, min(c_name) as first
from customer right join nation on c_nationkey = n_nationkey
group by n_regionkey
order by n_regionkey;
